"""What telling citizens where to go changes: dev decisions and real portal questions.

    .venv/bin/python bench/referrals.py [--sample 40] [--seed 1]

The same matcher with and without `corpus/referrals.jsonl` (procedures done elsewhere). On
the dev questions: decisions, and how many questions labelled as commune answers would now
be sent elsewhere (the harm). On the 400 real portal questions: how many answers become
referrals, and how the hand-judged answers (bench/portal_judgement.jsonl) among them were
judged; then a fixed sample of referrals for a person to judge (is this the procedure the
citizen asks about, and is the office right?), kept in bench/referral_judgement.jsonl by a
hash of question and code, as for answers.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.portal_precision import PORTAL, VERDICTS, key, read_verdicts  # noqa: E402
from service.config import get_settings  # noqa: E402
from service.corpus import load_corpus  # noqa: E402
from service.lookup import build_matcher  # noqa: E402
from service.matching.matcher import Decision, Matcher, SearchResult  # noqa: E402
from service.offline.crossval import is_test_question  # noqa: E402
from service.offline.evaluation import EXPECTED_DECISION  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "questions_dev.jsonl"
REFERRAL_VERDICTS = ROOT / "bench" / "referral_judgement.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = get_settings()
    matcher = build_matcher(settings, load_corpus(settings.corpus_path))
    index = matcher.referrals
    if not index:
        sys.exit(f"no referrals in {settings.referrals_file}")

    def both(question: str) -> tuple[SearchResult, SearchResult]:
        def ask(m: Matcher) -> SearchResult:
            return m.search(
                question, 3, answer_min=settings.answer_min_confidence, clarify_min=settings.clarify_min_confidence
            )

        with_referrals = ask(matcher)
        matcher.referrals = None
        try:
            without = ask(matcher)
        finally:
            matcher.referrals = index
        return with_referrals, without

    print(f"{len(index)} referrals\n")
    print(
        "Covered: labelled out of scope, or about a procedure of the commune catalogue. Not covered:"
        " about a procedure the catalogue lacks (a right referral names one of the labelled codes).\n"
    )
    print(
        "| dev questions | covered rows | decision right, without | with | covered rows referred "
        "| not covered | referred | to a labelled code |"
    )
    print("|---|---|---|---|---|---|---|---|")
    commune = {p.code for p in matcher.procedures}
    dev = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    for label, rows in (
        ("fold rows", [r for r in dev if not is_test_question(r["question"])]),
        ("test split", [r for r in dev if is_test_question(r["question"])]),
    ):
        right = [0, 0]
        covered = harmed = uncovered = sent = labelled = 0
        for row in rows:
            expected = EXPECTED_DECISION[row["expected"]]
            new, old = both(row["question"])
            if expected is Decision.OUT_OF_SCOPE or commune & set(row["codes"] or []):
                covered += 1
                right[0] += old.decision is expected
                right[1] += new.decision is expected
                harmed += new.referral is not None and expected is not Decision.OUT_OF_SCOPE
            else:
                uncovered += 1
                sent += new.referral is not None
                labelled += new.referral is not None and new.referral.code in set(row["codes"] or [])
        print(
            f"| {label} | {covered} | {right[0] / covered:.3f} | {right[1] / covered:.3f} | {harmed} | "
            f"{uncovered} | {sent} | {labelled} |"
        )

    portal = [json.loads(line)["question"] for line in PORTAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = read_verdicts(VERDICTS)
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    referred = []
    judged_answers: Counter[str] = Counter()
    for q in portal:
        new, old = both(q)
        before[old.decision.value] += 1
        after[new.decision.value] += 1
        if new.referral is not None:
            referred.append((q, new.referral))
            if old.decision.value == "answer" and old.matches:
                verdict = answers.get(key(q, old.matches[0].procedure.code))
                judged_answers["unjudged" if verdict is None else ("was right" if verdict else "was wrong")] += 1
    print(f"\n{len(portal)} portal questions")
    print("without referrals: " + ", ".join(f"{k} {v}" for k, v in sorted(before.items())))
    print(
        "with referrals:    "
        + ", ".join(f"{k} {v}" for k, v in sorted(after.items()))
        + f" (told where to go: {len(referred)})"
    )
    told_before = ", ".join(f"{k} {v}" for k, v in sorted(judged_answers.items())) or "none"
    print(f"answers now sent elsewhere, as judged before: {told_before}")
    judged = read_verdicts(REFERRAL_VERDICTS)
    sample = random.Random(args.seed).sample(referred, min(args.sample, len(referred)))
    marks = [judged[key(q, r.code)] for q, r in sample if key(q, r.code) in judged]
    if marks:
        print(f"referral precision on the judged sample: {sum(marks)}/{len(marks)} = {sum(marks) / len(marks):.2f}")
    for q, r in sample:
        if key(q, r.code) not in judged:
            print(f"\n[{key(q, r.code)}] {q}\n    -> {r.code} {r.name} | {r.office}")


if __name__ == "__main__":
    main()
