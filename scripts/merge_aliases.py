"""Merge the colloquial aliases (scripts/colloquial_aliases.jsonl) into a corpus file.

    python scripts/merge_aliases.py corpus/procedures.jsonl

Aliases are written per procedure from the procedure's own record and from how people talk
(never from question sets): at least four ways a farmer, an elderly person or a
second-language speaker says the need. They go after the curated ones and before the plain
variants of the official name. scripts/build_corpus.py applies the same merge.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.corpus import Procedure, load_corpus, write_corpus  # noqa: E402
from service.offline.importer import own_aliases  # noqa: E402

ALIASES_FILE = Path(__file__).resolve().parent / "colloquial_aliases.jsonl"


def read_colloquial(path: Path = ALIASES_FILE) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["code"]] = list(row["aliases"])
    return out


def with_colloquial(proc: Procedure, colloquial: list[str]) -> Procedure:
    curated = own_aliases(proc.name, proc.aliases)
    plain = [a for a in proc.aliases if a not in curated]
    merged: list[str] = []
    seen: set[str] = set()
    for alias in [*curated, *colloquial, *plain]:
        key = alias.lower()
        if key not in seen:
            seen.add(key)
            merged.append(alias)
    return proc.model_copy(update={"aliases": merged})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args()
    colloquial = read_colloquial()
    corpus = load_corpus(args.corpus)
    procs = [with_colloquial(p, colloquial.get(p.code, [])) for p in corpus.procedures]
    write_corpus(procs, args.corpus)
    print(f"{sum(len(colloquial.get(p.code, [])) for p in procs)} colloquial aliases over {len(procs)} procedures")


if __name__ == "__main__":
    main()
