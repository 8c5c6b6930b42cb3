"""Answer languages: a registry a province edits by configuration, not code.

Each language names itself in Vietnamese and in its own words (the kiosk shows both) and says
where to fall back when a recording is missing: Thái → Vietnamese, for instance. Adding
Khơ Mú, Dao, Chăm, Khmer or S'tiêng is a change of `TTHC_LANGUAGES` (which are enabled) and,
for a language not listed below, of `TTHC_LANGUAGES_FILE` (a JSON list of these records).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter, model_validator

from service.params import LANGUAGE_PATTERN


class Language(BaseModel):
    code: str = Field(pattern=LANGUAGE_PATTERN)
    name_vi: str
    name_native: str
    fallback: list[str] = Field(default_factory=list, description="tried in order when a recording is missing")
    enabled: bool = True


DEFAULT_LANGUAGES: list[Language] = [
    Language(code="vi", name_vi="Tiếng Việt", name_native="Tiếng Việt"),
    Language(code="hmn", name_vi="Tiếng H'Mông", name_native="Lus Hmoob", fallback=["vi"]),
    Language(code="tai", name_vi="Tiếng Thái", name_native="Pák Tay", fallback=["vi"]),
    Language(code="kjm", name_vi="Tiếng Khơ Mú", name_native="Kmhmu", fallback=["vi"], enabled=False),
    Language(code="dao", name_vi="Tiếng Dao", name_native="Iu Mienh", fallback=["vi"], enabled=False),
    Language(code="cja", name_vi="Tiếng Chăm", name_native="Cham", fallback=["vi"], enabled=False),
    Language(code="km", name_vi="Tiếng Khmer", name_native="ភាសាខ្មែរ", fallback=["vi"], enabled=False),
    Language(code="sti", name_vi="Tiếng S'tiêng", name_native="S'tiêng", fallback=["vi"], enabled=False),
]


class LanguageRegistry(BaseModel):
    languages: list[Language]

    @model_validator(mode="after")
    def _consistent(self) -> LanguageRegistry:
        codes = [lang.code for lang in self.languages]
        if len(set(codes)) != len(codes):
            raise ValueError("language codes must be unique")
        for lang in self.languages:
            unknown = [c for c in lang.fallback if c not in codes]
            if unknown:
                raise ValueError(f"{lang.code}: fallback to unknown language(s) {unknown}")
        return self

    def get(self, code: str) -> Language | None:
        return next((lang for lang in self.languages if lang.code == code), None)

    def enabled(self) -> list[Language]:
        return [lang for lang in self.languages if lang.enabled]

    def chain(self, code: str) -> list[str]:
        """The language itself, then its fallbacks (and theirs), without repeats or cycles."""
        order: list[str] = []
        pending = [code]
        while pending:
            current = pending.pop(0)
            lang = self.get(current)
            if lang is None or current in order:
                continue
            order.append(current)
            pending.extend(lang.fallback)
        return order


def load_registry(path: Path | None, enabled_codes: list[str]) -> LanguageRegistry:
    """The registry from a JSON file (or the built-in one), enabling the province's languages."""
    languages = (
        TypeAdapter(list[Language]).validate_python(json.loads(path.read_text(encoding="utf-8")))
        if path is not None
        else DEFAULT_LANGUAGES
    )
    unknown = set(enabled_codes) - {lang.code for lang in languages}
    if unknown:
        raise ValueError(f"TTHC_LANGUAGES names languages the registry lacks: {sorted(unknown)}")
    return LanguageRegistry(
        languages=[lang.model_copy(update={"enabled": lang.code in enabled_codes}) for lang in languages]
    )
