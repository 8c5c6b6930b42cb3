"""Does a spoken answer agree with its record? Office, time and fee, checked from the words.

A citizen acts on what she hears: an answer that names the commune desk for a police matter,
or a fee the record does not carry, sends her on a wasted trip. The checks read the answer's
spoken numbers back ("mười lăm ngày làm việc" → 15) and compare them with the record's
`agency`, `processing_time` and `fee`. `lint_corpus` adds the spoken-text rules per line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from service.answers.spoken import money_amounts, number_words, spoken_problems
from service.corpus import CorpusError, Procedure

LINT_MAX_WORDS = 60  # hard bound for any answer; the composer aims at 45
_NUMBER_WORDS = frozenset(
    ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười", "mươi", "mốt", "lăm")
    + ("tư", "lẻ", "linh", "trăm", "nghìn", "ngàn", "triệu", "tỷ")
)


def _spoken_numbers_before(text: str, unit: re.Pattern[str]) -> list[str]:
    """The number words said right before each unit ("... mười nghìn đồng" → "mười nghìn")."""
    words = text.lower().replace(",", " ").replace(".", " ").split()
    found = []
    for i in range(len(words)):
        if unit.match(" ".join(words[i : i + 3])):
            j = i
            while j > 0 and words[j - 1] in _NUMBER_WORDS:
                j -= 1
            if j < i:
                found.append(" ".join(words[j:i]))
    return found


def record_numbers(text: str | None) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text or "")}


def _office_problem(proc: Procedure) -> str | None:
    agency, answer = proc.agency.lower(), proc.answer_vi.lower()
    # A record that names the commune's People's Committee among several bodies (a joint
    # procedure) is answered by the commune desk; only a lone body must be named.
    joint = "ủy ban nhân dân" in agency or "ubnd" in agency
    police = re.search(r"công an (cấp )?(xã|tỉnh)", agency)  # not "Bộ Công an", a ministry that only rules
    if police and not joint and "công an" not in answer:
        return f"agency is the police ({proc.agency!r}) but the answer does not send the citizen there"
    if ("bảo hiểm xã hội" in agency or "bhxh" in agency) and not joint and "bảo hiểm" not in answer:
        return f"agency is social insurance ({proc.agency!r}) but the answer does not say so"
    commune_only = "xã" in agency and not re.search(r"công an|bảo hiểm|bhxh|quân sự|tỉnh|sở ", agency)
    if commune_only and "xã" not in answer:
        return f"agency is the commune ({proc.agency!r}) but the answer names no commune office"
    if "công an" not in agency and re.search(r"\bđến công an\b", answer):
        return f"the answer sends the citizen to the police; the agency is {proc.agency!r}"
    return None


def _time_problem(proc: Procedure) -> str | None:
    allowed = {number_words(n) for n in record_numbers(proc.processing_time)}
    for said in _spoken_numbers_before(proc.answer_vi, re.compile(r"^ngày làm việc\b")):
        if said not in allowed:
            return f"answer says {said} ngày làm việc; the record says {proc.processing_time!r}"
    return None


def _fee_problem(proc: Procedure) -> str | None:
    amounts = money_amounts(proc.fee or "") - {0}
    allowed = {number_words(a) for a in amounts}
    for said in _spoken_numbers_before(proc.answer_vi, re.compile(r"^đồng\b")):
        if said not in allowed:
            return f"answer says {said} đồng; the record's fee is {proc.fee!r}"
    if amounts and re.search(r"không mất (lệ )?phí|miễn (lệ )?phí|miễn phí", proc.answer_vi, re.IGNORECASE):
        return f"answer says free; the record's fee is {proc.fee!r}"
    return None


def fact_problems(proc: Procedure) -> list[str]:
    """Every way the spoken answer disagrees with its own record."""
    return [p for p in (_office_problem(proc), _time_problem(proc), _fee_problem(proc)) if p]


def lint_corpus(path: Path) -> list[CorpusError]:
    """Spoken-text problems of every answer, with the corpus line they are on."""
    errors = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            data = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            continue  # the schema check reports it
        answer = data.get("answer_vi") if isinstance(data, dict) else None
        if isinstance(answer, str):
            errors += [CorpusError(number, "answer_vi", p) for p in spoken_problems(answer, max_words=LINT_MAX_WORDS)]
    return errors


@dataclass(frozen=True)
class AnswersReport:
    written: int
    composed: int
    lint_errors: list[CorpusError]
    fact_errors: dict[str, list[str]]
    words: list[int]

    def format(self) -> str:
        words = sorted(self.words)
        median = words[len(words) // 2] if words else 0
        within = sum(w <= 45 for w in words)
        lines = [
            f"answers: {self.written + self.composed} ({self.written} written by hand, {self.composed} composed)",
            f"words: median {median}, 90th percentile {words[int(len(words) * 0.9)] if words else 0}, "
            f"max {words[-1] if words else 0}; {within} of {len(words)} within 45",
            f"spoken-text problems: {len(self.lint_errors)}",
            f"disagreements with the record: {sum(map(len, self.fact_errors.values()))}",
        ]
        lines += [f"  {err}" for err in self.lint_errors[:20]]
        lines += [f"  {code}: {p}" for code, problems in list(self.fact_errors.items())[:20] for p in problems]
        return "\n".join(lines)


def answers_report(path: Path, procedures: tuple[Procedure, ...]) -> AnswersReport:
    facts = {p.code: found for p in procedures if (found := fact_problems(p))}
    return AnswersReport(
        written=sum(p.answer_written for p in procedures),
        composed=sum(not p.answer_written for p in procedures),
        lint_errors=lint_corpus(path),
        fact_errors=facts,
        words=[len(p.answer_vi.split()) for p in procedures],
    )
