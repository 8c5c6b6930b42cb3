"""The audio prompt catalogue: which recording to play, and in which format.

Recordings live under `audio_prompts/<lang>/`. Human recordings are listed in
`audio_prompts/manifest.jsonl` (committed); speech synthesised with espeak-ng so kiosks speak
before anyone has recorded is listed in `audio_prompts/synthetic.jsonl` and always marked
`synthetic`. Resolution walks the language's fallback chain and, within a language, prefers a
human recording to a synthetic one. Formats live in `transcode.py`, coverage reports in
`coverage.py`, espeak-ng rendering in the offline `synthesis.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from service.answers.languages import LanguageRegistry
from service.answers.spoken import number_words, speakable
from service.corpus import Corpus
from service.names import clip, short_name
from service.params import LANGUAGE_PATTERN

log = logging.getLogger(__name__)

HUMAN_MANIFEST = "manifest.jsonl"
SYNTHETIC_MANIFEST = "synthetic.jsonl"


class PromptKind(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    NOT_UNDERSTOOD = "not_understood"
    OUT_OF_SCOPE = "out_of_scope"
    LANGUAGE_MENU = "language_menu"
    GREETING = "greeting"
    TITLE = "title"  # a procedure's short name, read out as a choice when the service asks back
    LANGUAGE_NAME = "language_name"  # a language saying its own name (kiosk picker, IVR menu)
    SYSTEM = "system"  # telephone glue: key presses, goodbye, busy


# System prompts every language needs, with the Vietnamese text a voice talent translates.
SYSTEM_PROMPTS: dict[str, tuple[PromptKind, str]] = {
    "sys-greeting": (PromptKind.GREETING, "Xin chào. Bà con cần hỏi thủ tục gì, xin hãy nói sau tiếng bíp."),
    "sys-not-understood": (PromptKind.NOT_UNDERSTOOD, "Xin lỗi, tôi chưa nghe rõ. Bà con vui lòng nói lại."),
    "sys-out-of-scope": (
        PromptKind.OUT_OF_SCOPE,
        "Xin lỗi, việc này không thuộc thủ tục của xã. Bà con vui lòng hỏi cán bộ một cửa.",
    ),
    "sys-clarify": (PromptKind.CLARIFY, "Bà con muốn hỏi thủ tục nào? Xin chọn một trong các thủ tục sau."),
    "sys-language-menu": (
        PromptKind.LANGUAGE_MENU,
        "Tiếng Việt, bấm phím một. Tiếng H'Mông, bấm phím hai. Tiếng Thái, bấm phím ba.",
    ),
    "sys-choose-language": (PromptKind.SYSTEM, "Xin chào. Xin chọn ngôn ngữ."),
    "sys-ask-again": (PromptKind.SYSTEM, "Bà con muốn hỏi thủ tục khác, xin nói sau tiếng bíp."),
    "sys-goodbye": (PromptKind.SYSTEM, "Cảm ơn bà con đã gọi. Chào tạm biệt."),
    "sys-busy": (PromptKind.SYSTEM, "Hệ thống đang bận. Bà con vui lòng gọi lại sau ít phút."),
    "sys-not-recorded": (
        PromptKind.SYSTEM,
        "Câu trả lời này chưa được ghi âm bằng tiếng của bà con. Xin nghe bằng tiếng Việt.",
    ),
    "sys-unavailable": (PromptKind.SYSTEM, "Máy đang bận, mời bà con gặp cán bộ một cửa."),
    **{f"sys-press-{digit}": (PromptKind.SYSTEM, f"bấm phím {number_words(digit)}.") for digit in range(10)},
}


# Played before every answer that falls back to Vietnamese, so each language records it first.
NOT_RECORDED_PROMPT = "sys-not-recorded"
FIRST_TO_RECORD = (NOT_RECORDED_PROMPT,)


def title_prompt_id(prompt_id: str) -> str:
    return f"{prompt_id}-title"


def spoken_title(name: str) -> str:
    """A procedure's short name as its title prompt says it, and as asking back reads the choices."""
    return speakable(clip(short_name(name), 90).rstrip("…"))


def language_prompt_id(code: str) -> str:
    return f"lang-{code}"


def prompt_texts(
    corpus: Corpus, registry: LanguageRegistry, tile_names: Mapping[str, str] | None = None
) -> dict[str, tuple[PromptKind, str]]:
    """Every prompt the service can play, with the Vietnamese text it speaks (what talents translate).

    Texts are in spoken form (`speakable`): numbers and abbreviations in words, no symbols.

    `tile_names` are the kiosk's life-event tiles (prompt id -> plain name), spoken when touched.
    """
    texts: dict[str, tuple[PromptKind, str]] = {}
    for proc in corpus.procedures:
        texts[proc.prompt_id] = (PromptKind.ANSWER, speakable(proc.answer_vi))
        texts[title_prompt_id(proc.prompt_id)] = (PromptKind.TITLE, spoken_title(proc.name))
    for prompt_id, label in (tile_names or {}).items():
        texts[prompt_id] = (PromptKind.TITLE, label)
    texts.update(SYSTEM_PROMPTS)
    for lang in registry.enabled():
        texts[language_prompt_id(lang.code)] = (PromptKind.LANGUAGE_NAME, lang.name_vi)
    return texts


class PromptRecord(BaseModel):
    language: str = Field(pattern=LANGUAGE_PATTERN)
    prompt_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: PromptKind
    file: str  # relative to audio_prompts/
    duration_s: float
    sha256: str
    synthetic: bool
    text: str
    recorded_by: str
    date: str


@dataclass(frozen=True)
class ResolvedPrompt:
    record: PromptRecord
    path: Path
    fallback_used: bool


def read_manifest(path: Path) -> list[PromptRecord]:
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(PromptRecord.model_validate_json(line))
            except ValueError as exc:
                log.warning("%s:%d: skipped invalid prompt record: %s", path, number, exc)
    return rows


class PromptCatalogue:
    def __init__(self, root: Path, registry: LanguageRegistry) -> None:
        self.root = root
        self.registry = registry
        self._records: dict[tuple[str, str, bool], PromptRecord] = {}
        for record in [*read_manifest(root / SYNTHETIC_MANIFEST), *read_manifest(root / HUMAN_MANIFEST)]:
            if (root / record.file).is_file():
                self._records[(record.language, record.prompt_id, record.synthetic)] = record

    def resolve(self, prompt_id: str, language: str) -> ResolvedPrompt | None:
        """Best recording for the prompt: the language, then its fallbacks; human before synthetic."""
        for lang in self.registry.chain(language):
            for synthetic in (False, True):
                record = self._records.get((lang, prompt_id, synthetic))
                if record is not None:
                    return ResolvedPrompt(record, self.root / record.file, lang != language)
        return None

    def records(self) -> list[PromptRecord]:
        return list(self._records.values())

    def status(self, prompt_id: str, language: str) -> CoverageStatus:
        """Recorded by a person, synthetic only, or missing, in exactly this language (no fallback)."""
        if (language, prompt_id, False) in self._records:
            return CoverageStatus.HUMAN
        if (language, prompt_id, True) in self._records:
            return CoverageStatus.SYNTHETIC
        return CoverageStatus.MISSING


class CoverageStatus(StrEnum):
    HUMAN = "human"
    SYNTHETIC = "synthetic"
    MISSING = "missing"
