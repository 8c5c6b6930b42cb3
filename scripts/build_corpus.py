"""Rebuild corpus/procedures.jsonl from the national portal export plus hand-written curation.

    python scripts/build_corpus.py ../shared/data/procedures_national.jsonl \
        ../shared/data/procedure_catalog.jsonl --out corpus/procedures.jsonl

The portal gives the facts (codes, names, documents, time, fee); scripts/curation.py gives
the words people use, and scripts/answers.jsonl the spoken answers written by hand (one JSON
object a line: code, answer, and `essential` for the services every commune must speak).
Beside the corpus it writes referrals.jsonl: the citizen-facing procedures done elsewhere,
each with the office that does them (service/matching/referrals.py).
Every other answer is composed from the record (service/offline/importer.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json  # noqa: E402

from scripts.curation import ALIASES  # noqa: E402
from scripts.merge_aliases import read_colloquial, with_colloquial  # noqa: E402
from service.corpus import write_corpus  # noqa: E402
from service.offline.importer import import_procedures, import_referrals, write_referrals  # noqa: E402

WRITTEN_ANSWERS = Path(__file__).resolve().parent / "answers.jsonl"


def read_written_answers(path: Path = WRITTEN_ANSWERS) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {str(row["code"]): row for row in rows}


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    procedures = import_procedures(args.sources, scope="commune")
    by_code = {p.code: p for p in procedures}
    written = read_written_answers()
    missing = sorted((set(ALIASES) | set(written)) - set(by_code))
    if missing:
        raise SystemExit(f"curated codes not in the import: {missing}")
    colloquial = read_colloquial()
    curated = []
    for proc in procedures:
        update: dict[str, object] = {}
        if proc.code in ALIASES:
            seen: set[str] = set()
            merged = []
            for alias in [*ALIASES[proc.code], *proc.aliases]:
                if alias.lower() not in seen:
                    seen.add(alias.lower())
                    merged.append(alias)
            update["aliases"] = merged
        if proc.code in written:
            update["answer_vi"] = written[proc.code]["answer"]
            update["answer_written"] = True
            if written[proc.code].get("essential"):
                update["essential"] = True
        proc = proc.model_copy(update=update) if update else proc
        curated.append(with_colloquial(proc, colloquial.get(proc.code, [])))
    write_corpus(curated, args.out)
    referrals = import_referrals(args.sources, set(by_code))
    write_referrals(referrals, args.out.with_name("referrals.jsonl"))
    logging.info("wrote %d procedures done elsewhere, with their offices, to referrals.jsonl", len(referrals))
    logging.info(
        "wrote %d procedures (%d with curated aliases, %d answers written by hand) to %s",
        len(curated),
        len(ALIASES),
        len(written),
        args.out,
    )


if __name__ == "__main__":
    main()
