"""What the service says back, in words a citizen at the desk understands."""

from __future__ import annotations

from service.answers.prompts import spoken_title
from service.answers.spoken import number_words
from service.corpus import Procedure
from service.matching.matcher import Decision, Match
from service.matching.referrals import Referral

OUT_OF_SCOPE_VI = (
    "Xin lỗi, câu hỏi này không thuộc các thủ tục mà xã giải quyết hoặc chưa có trong danh mục. "
    "Bà con vui lòng hỏi trực tiếp cán bộ một cửa để được hướng dẫn."
)
EMPTY_VI = "Xin lỗi, tôi chưa nghe rõ. Bà con vui lòng nói lại tên thủ tục cần hỏi."


def clarify_text(matches: list[Match]) -> str:
    """The choices as they are said: "Một là đăng ký khai sinh. Hai là ...", never "1: ...; 2: ..."."""
    names = [spoken_title(m.procedure.name) for m in matches]
    options = " ".join(f"{number_words(i).capitalize()} là {n}." for i, n in enumerate(names, start=1))
    return f"Bà con muốn hỏi thủ tục nào? {options}"


def referral_text(referral: Referral) -> str:
    """Where to go for a procedure the commune does not do, said plainly."""
    title = spoken_title(referral.name)
    return f"Việc {title[:1].lower()}{title[1:]} không làm ở xã. Bà con đến {referral.office} để được hướng dẫn."


def answer_text(
    decision: Decision, matches: list[Match], top: Procedure | None, referral: Referral | None = None
) -> str:
    if decision is Decision.ANSWER and top is not None:
        return top.answer_vi
    if decision is Decision.CLARIFY and matches:
        return clarify_text(matches)
    if referral is not None:
        return referral_text(referral)
    return OUT_OF_SCOPE_VI if matches else EMPTY_VI


NOT_UNDERSTOOD_PROMPT = "sys-not-understood"


def prompt_for(decision: Decision, matches: list[Match], top: Procedure | None) -> str:
    """The audio prompt that speaks `answer_text`."""
    if decision is Decision.ANSWER and top is not None:
        return top.prompt_id
    if decision is Decision.CLARIFY and matches:
        return "sys-clarify"
    return "sys-out-of-scope" if matches else NOT_UNDERSTOOD_PROMPT
