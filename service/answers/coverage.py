"""Which prompts are recorded by a person, only synthetic, or missing, per language: the worklist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.answers.prompts import FIRST_TO_RECORD, CoverageStatus, PromptCatalogue, prompt_texts, title_prompt_id
from service.corpus import Corpus


@dataclass(frozen=True)
class CoverageRow:
    prompt_id: str
    code: str
    name: str
    essential: bool
    text_vi: str
    status: dict[str, CoverageStatus]


def coverage_rows(
    catalogue: PromptCatalogue, corpus: Corpus, languages: list[str], tile_names: Mapping[str, str] | None = None
) -> list[CoverageRow]:
    """Recording status of every prompt in each language (no fallback): essential first.

    Answers and titles of essential procedures, system prompts, tile names and language names
    count as essential; `FIRST_TO_RECORD` comes before everything.
    """
    by_prompt = {p.prompt_id: p for p in corpus.procedures}
    by_title = {title_prompt_id(p.prompt_id): p for p in corpus.procedures}
    rows = []
    for pid, (kind, text) in prompt_texts(corpus, catalogue.registry, tile_names).items():
        proc = by_prompt.get(pid) or by_title.get(pid)
        code, name, essential = (proc.code, proc.name, proc.essential) if proc else ("", kind.value, True)
        rows.append(
            CoverageRow(pid, code, name, essential, text, {lang: catalogue.status(pid, lang) for lang in languages})
        )
    return sorted(
        rows, key=lambda r: (r.prompt_id not in FIRST_TO_RECORD, not r.essential, r.code == "", r.code, r.prompt_id)
    )


def coverage_summary(rows: list[CoverageRow], languages: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """{language: {"all"|"essential": {human, synthetic, missing}}}."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for lang in languages:
        groups: dict[str, dict[str, int]] = {g: {s.value: 0 for s in CoverageStatus} for g in ("all", "essential")}
        for row in rows:
            groups["all"][row.status[lang].value] += 1
            if row.essential:
                groups["essential"][row.status[lang].value] += 1
        out[lang] = groups
    return out
