"""Answer precision on real portal questions, judged by hand.

    .venv/bin/python bench/portal_precision.py [--sample 60] [--seed 1]

Runs every question of ../shared/eval/questions_unlabelled_portal.jsonl (real questions sent
to a national portal, mostly not commune matters) through the matcher, counts the decisions,
draws a fixed random sample of the *answered* ones and prints, for each, the question and the
procedure the service would answer with. A person judges each pair: is this the procedure the
citizen asks about? Verdicts live in bench/portal_judgement.jsonl, keyed by a hash of the
question and the answered code (no question text is stored in the project), so a new
matcher that answers differently shows up as unjudged instead of inheriting a verdict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

from service.config import get_settings
from service.corpus import load_corpus
from service.lookup import build_matcher

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT.parent / "shared" / "eval" / "questions_unlabelled_portal.jsonl"
VERDICTS = ROOT / "bench" / "portal_judgement.jsonl"


def key(question: str, code: str) -> str:
    return hashlib.sha256(f"{question.strip()}\t{code}".encode()).hexdigest()[:16]


def read_verdicts(path: Path) -> dict[str, bool]:
    """Hand verdicts by key: is the service's procedure the one the question is about?"""
    if not path.is_file():
        return {}
    return {row["key"]: bool(row["right"]) for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=PORTAL)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = get_settings()
    matcher = build_matcher(settings, load_corpus(settings.corpus_path))
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()]
    answered = []
    decisions: Counter[str] = Counter()
    for q in questions:
        r = matcher.search(
            q,
            limit=3,
            answer_min=settings.answer_min_confidence,
            clarify_min=settings.clarify_min_confidence,
        )
        decisions[r.decision.value] += 1
        if r.decision.value == "answer":
            answered.append((q, r.matches[0].procedure))
    verdicts = read_verdicts(VERDICTS)
    sample = random.Random(args.seed).sample(answered, min(args.sample, len(answered)))
    judged = [verdicts[key(q, p.code)] for q, p in sample if key(q, p.code) in verdicts]
    print(f"{len(questions)} portal questions: " + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())))
    print(f"sample of {len(sample)} answered, {len(judged)} judged")
    if judged:
        print(f"answer precision on the judged sample: {sum(judged)}/{len(judged)} = {sum(judged) / len(judged):.2f}")
    for q, p in sample:
        k = key(q, p.code)
        if k not in verdicts:
            print(f"\n[{k}] {q}\n    -> {p.code} {p.name}")


if __name__ == "__main__":
    main()
