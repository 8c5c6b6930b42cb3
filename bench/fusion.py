"""Compare fusion rules on labelled questions: score fusion over a weight grid vs reciprocal rank.

    .venv/bin/python bench/fusion.py [--questions ../shared/eval/questions_dev.jsonl] [--corpus PATH]

Prints top-1/top-3 for each single scorer, reciprocal-rank fusion (k = 10, 60) and the
score fusion at several weights and embedding scales. These figures are in-sample (every
rule is judged on the questions it is compared on); the shipped weights are chosen on folds
by `tthc-voice eval crossval`, which reports held-out figures only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from service.config import get_settings
from service.corpus import load_corpus
from service.lookup import build_matcher
from service.matching.matcher import Method
from service.offline.evaluation import read_questions

ROOT = Path(__file__).resolve().parent.parent


def hits(scores: np.ndarray, gold: list[set[str]], codes: list[str]) -> tuple[float, float]:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :3]
    h1 = np.mean([codes[t[0]] in g for t, g in zip(top, gold, strict=True)])
    h3 = np.mean([bool(g & {codes[i] for i in t}) for t, g in zip(top, gold, strict=True)])
    return float(h1), float(h3)


def rrf(*score_sets: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(score_sets[0])
    for s in score_sets:
        ranks = np.argsort(np.argsort(-s, axis=1, kind="stable"), axis=1)
        out += 1.0 / (k + ranks + 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "questions_dev.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus" / "procedures.jsonl")
    args = parser.parse_args()
    matcher = build_matcher(get_settings(), load_corpus(args.corpus))
    codes = [p.code for p in matcher.procedures]
    known = set(codes)
    rows = [q for q in read_questions(args.questions) if q.expected in ("answer", "clarify") and known & set(q.codes)]
    texts = [matcher.prepare(q.question) for q in rows]
    gold = [set(q.codes) for q in rows]
    fuzzy = np.stack([matcher.method_scores(t, Method.FUZZY) for t in texts])
    emb = np.stack([matcher.method_scores(t, Method.EMBEDDING) for t in texts])
    bm25 = np.stack([matcher.method_scores(t, Method.BM25) for t in texts])
    table: list[tuple[str, tuple[float, float]]] = [
        ("fuzzy", hits(fuzzy, gold, codes)),
        ("embedding", hits(emb, gold, codes)),
        ("bm25", hits(bm25, gold, codes)),
    ]
    for k in (10, 60):
        table.append((f"rrf fuzzy+emb k={k}", hits(rrf(fuzzy, emb, k=k), gold, codes)))
        table.append((f"rrf fuzzy+emb+bm25 k={k}", hits(rrf(fuzzy, emb, bm25, k=k), gold, codes)))
    median = np.median(emb, axis=1, keepdims=True)
    for w in (0.3, 0.4, 0.5, 0.6):
        for scale in (0.12, 0.16, 0.20):
            rel = np.clip((emb - median) / scale, 0, 1)
            table.append((f"score w_fuzzy={w} scale={scale}", hits(w * fuzzy + (1 - w) * rel, gold, codes)))
    print(f"{len(rows)} ranked questions, {len(codes)} procedures\n")
    print(f"{'rule':<34} {'top1':>6} {'top3':>6}")
    for name, (h1, h3) in table:
        print(f"{name:<34} {h1:>6.3f} {h3:>6.3f}")


if __name__ == "__main__":
    main()
