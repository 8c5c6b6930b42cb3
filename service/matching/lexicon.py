"""Everyday words -> the official terms procedure names use ("lấy vợ" -> "kết hôn").

Citizens name life events and documents in their own words; the corpus speaks officialese.
The lexicon (corpus/lexicon.jsonl, data not code) lets every scorer see the official term
next to the citizen's words. Entries are matched as whole words; on a question typed without
tone marks only entries of two or more syllables match by their folded form, since a folded
single syllable ("de" for đẻ, để, đề ...) means too many things.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.matching.textnorm import clean, fold

TOPICS = frozenset(
    {
        "hộ tịch",
        "cư trú",
        "căn cước",
        "chứng thực",
        "đất đai",
        "xây dựng nhà ở",
        "bảo trợ xã hội",
        "người có công",
        "bảo hiểm",
        "giảm nghèo",
        "giáo dục",
        "việc làm",
        "nông nghiệp",
        "giao thông",
        "kinh doanh",
        "quân sự",
        "tư pháp",
        "khác",
    }
)


class InvalidLexiconError(ValueError):
    pass


class LexiconEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    phrase: str = Field(min_length=1, max_length=80)
    official: str = Field(min_length=2, max_length=120)
    topic: str

    @field_validator("phrase", "official")
    @classmethod
    def _plain_text(cls, v: str) -> str:
        if v != unicodedata.normalize("NFC", v) or v != clean(v):
            raise ValueError("must be NFC, lower case, without punctuation or extra spaces")
        return v

    @field_validator("phrase")
    @classmethod
    def _short(cls, v: str) -> str:
        if len(v.split()) > 6:
            raise ValueError("a phrase has at most 6 words")
        return v

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, v: str) -> str:
        if v not in TOPICS:
            raise ValueError(f"topic must be one of {sorted(TOPICS)}")
        return v


@dataclass(frozen=True)
class Expansion:
    text: str  # the question with the official terms it implies appended
    entries: tuple[LexiconEntry, ...]


class Lexicon:
    def __init__(self, entries: list[LexiconEntry]) -> None:
        self.entries = entries
        accented = sorted({e.phrase for e in entries}, key=len, reverse=True)
        folded = sorted({fold(e.phrase) for e in entries if len(e.phrase.split()) >= 2}, key=len, reverse=True)
        self._by_phrase: dict[str, list[LexiconEntry]] = {}
        self._by_fold: dict[str, list[LexiconEntry]] = {}
        for e in entries:
            self._by_phrase.setdefault(e.phrase, []).append(e)
            self._by_fold.setdefault(fold(e.phrase), []).append(e)
        self._accented_re = _alternation(accented)
        self._folded_re = _alternation(folded)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, accented: str) -> tuple[LexiconEntry, ...]:
        """Entries whose phrase occurs in the (cleaned) question, longest phrases first."""
        found: list[LexiconEntry] = []
        if self._accented_re is not None:
            for m in self._accented_re.finditer(accented):
                found.extend(self._by_phrase[m.group(1)])
        if accented == fold(accented) and self._folded_re is not None:
            for m in self._folded_re.finditer(accented):
                found.extend(self._by_fold[m.group(1)])
        return tuple(dict.fromkeys(found))

    def expand(self, accented: str) -> Expansion:
        entries = self.find(accented)
        words = f" {accented} "
        folded_words = f" {fold(accented)} "
        extra: list[str] = []
        for e in entries:
            term = e.official
            if f" {term} " in words or f" {fold(term)} " in folded_words or term in extra:
                continue
            extra.append(term)
        return Expansion(" ".join([accented, *extra]) if extra else accented, entries)


def _alternation(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    return re.compile(r"(?:^|(?<= ))(" + "|".join(re.escape(p) for p in phrases) + r")(?= |$)")


def load_lexicon(path: Path | None) -> Lexicon:
    """Read and validate corpus/lexicon.jsonl; a missing path gives an empty lexicon."""
    if path is None or not path.is_file():
        return Lexicon([])
    entries: list[LexiconEntry] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = LexiconEntry.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise InvalidLexiconError(f"{path}:{n}: {exc}") from exc
            key = f"{entry.phrase}\t{entry.official}"
            if key in seen:
                raise InvalidLexiconError(f"{path}:{n}: duplicate entry {entry.phrase!r} -> {entry.official!r}")
            seen.add(key)
            entries.append(entry)
    return Lexicon(entries)
