"""Rebuild corpus/procedures.jsonl from the national portal export plus hand-written curation.

    python scripts/build_corpus.py ../shared/data/procedures_national.jsonl \
        ../shared/data/procedure_catalog.jsonl --out corpus/procedures.jsonl

The portal gives the facts (codes, names, documents, time, fee); scripts/curation.py gives
the words people use and the spoken answers for the most asked procedures.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.curation import ALIASES, ANSWERS  # noqa: E402
from scripts.merge_aliases import read_colloquial, with_colloquial  # noqa: E402
from service.corpus import write_corpus  # noqa: E402
from service.offline.importer import import_procedures  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    procedures = import_procedures(args.sources, scope="commune")
    by_code = {p.code: p for p in procedures}
    missing = sorted(set(ALIASES) - set(by_code))
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
        if proc.code in ANSWERS:
            update["answer_vi"] = ANSWERS[proc.code]
            update["essential"] = True
        proc = proc.model_copy(update=update) if update else proc
        curated.append(with_colloquial(proc, colloquial.get(proc.code, [])))
    write_corpus(curated, args.out)
    logging.info(
        "wrote %d procedures (%d with curated aliases, %d curated answers) to %s",
        len(curated),
        len(ALIASES),
        len(ANSWERS),
        args.out,
    )


if __name__ == "__main__":
    main()
