"""The procedure corpus: schema, loading and validation.

One JSON object per line. Validation reports every bad line with its number and field, so a
province editing the file by hand sees all mistakes at once; the service refuses to start on
an invalid corpus with the same report.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CODE_PATTERN = re.compile(r"^\d{1,2}\.\d{6}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZĐÀ-Ỹ])")
PROMPT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2)
    quantity: str | None = None


class Procedure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str = Field(min_length=3)
    field: str = Field(min_length=2)
    level: str = Field(min_length=2)
    agency: str = Field(min_length=2)
    processing_time: str | None = None
    fee: str | None = None
    documents: list[Document] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(min_length=3)
    answer_vi: str = Field(min_length=20, max_length=1200)
    answer_written: bool = False  # written by a person; otherwise composed from the record's fields
    essential: bool = False
    prompt_id: str
    legal_basis: list[str] = Field(default_factory=list)
    source_url: str | None = None

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not CODE_PATTERN.match(v):
            raise ValueError("code must look like '1.001193' (group.six digits)")
        return v

    @field_validator("prompt_id")
    @classmethod
    def _prompt_id_shape(cls, v: str) -> str:
        if not PROMPT_ID_PATTERN.match(v):
            raise ValueError("prompt_id must be lower-case letters, digits, '-' or '_' (max 64)")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases_clean(cls, v: list[str]) -> list[str]:
        cleaned = [a.strip() for a in v]
        if any(not a for a in cleaned):
            raise ValueError("aliases must not be empty strings")
        if len({a.lower() for a in cleaned}) != len(cleaned):
            raise ValueError("aliases must not repeat")
        return cleaned

    @field_validator("answer_vi")
    @classmethod
    def _answer_sentences(cls, v: str) -> str:
        sentences = _SENTENCE_END.split(v.strip())
        if not 1 <= len(sentences) <= 6:
            raise ValueError("answer_vi should be 2-4 short spoken sentences")
        return v.strip()


@dataclass(frozen=True)
class CorpusError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class InvalidCorpusError(Exception):
    def __init__(self, path: Path, errors: list[CorpusError]) -> None:
        self.path = path
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"invalid corpus {path}: {len(errors)} error(s)\n{shown}{more}")


@dataclass(frozen=True)
class Corpus:
    procedures: tuple[Procedure, ...]
    sha256: str
    path: Path

    def by_code(self) -> dict[str, Procedure]:
        return {p.code: p for p in self.procedures}


def _parse_lines(lines: Iterable[str]) -> tuple[list[Procedure], list[CorpusError]]:
    procedures: list[Procedure] = []
    errors: list[CorpusError] = []
    codes: dict[str, int] = {}
    prompt_ids: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(CorpusError(number, "<json>", exc.msg))
            continue
        if not isinstance(data, dict):
            errors.append(CorpusError(number, "<json>", "each line must be a JSON object"))
            continue
        try:
            proc = Procedure.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "<record>"
                errors.append(CorpusError(number, loc, err["msg"]))
            continue
        if proc.code in codes:
            errors.append(CorpusError(number, "code", f"duplicate of line {codes[proc.code]}"))
            continue
        if proc.prompt_id in prompt_ids:
            errors.append(CorpusError(number, "prompt_id", f"duplicate of line {prompt_ids[proc.prompt_id]}"))
            continue
        codes[proc.code] = number
        prompt_ids[proc.prompt_id] = number
        procedures.append(proc)
    if not procedures and not errors:
        errors.append(CorpusError(0, "<file>", "corpus is empty"))
    return procedures, errors


def validate_corpus(path: Path) -> list[CorpusError]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [CorpusError(0, "<file>", str(exc))]
    return _parse_lines(text.splitlines())[1]


def load_corpus(path: Path) -> Corpus:
    """Load and validate; raises InvalidCorpusError listing every problem."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCorpusError(path, [CorpusError(0, "<file>", str(exc))]) from exc
    procedures, errors = _parse_lines(text.splitlines())
    if errors:
        raise InvalidCorpusError(path, errors)
    return Corpus(tuple(procedures), hashlib.sha256(raw).hexdigest(), path)


def write_corpus(procedures: Iterable[Procedure], path: Path) -> None:
    """Write atomically so a running service never reads half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as fh:
        for proc in procedures:
            fh.write(json.dumps(proc.model_dump(exclude_none=True), ensure_ascii=False) + "\n")
    tmp.replace(path)


def edit_procedure(path: Path, code: str, *, add_alias: str | None = None, answer: str | None = None) -> Procedure:
    """Add an alias or replace the spoken answer of one procedure, validated, written atomically.

    Raises KeyError for an unknown code and ValueError when the edit breaks a rule (a repeated
    alias, an answer too long to speak); the file is then left as it was.
    """
    corpus = load_corpus(path)
    procedures = list(corpus.procedures)
    index = next((i for i, p in enumerate(procedures) if p.code == code), None)
    if index is None:
        raise KeyError(code)
    data = procedures[index].model_dump()
    if add_alias is not None:
        data["aliases"] = [*data["aliases"], add_alias]
    if answer is not None:
        data["answer_vi"] = answer
        data["answer_written"] = True
    procedures[index] = Procedure.model_validate(data)  # ValidationError is a ValueError
    write_corpus(procedures, path)
    return procedures[index]
