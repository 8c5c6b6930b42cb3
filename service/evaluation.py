"""Offline evaluation of matching on labelled questions.

Rows: {"question", "codes": [acceptable codes], "expected": answer|clarify|apologize}.
Top-k is measured over rows whose expected behaviour is answer or clarify and whose codes
exist in the corpus (`coverage` says how many that is). Decision accuracy compares
answer/clarify/apologize with answer/clarify/out_of_scope over the rows that this corpus
can be judged on: covered rows and rows with no code (true out-of-scope questions). Labelled
rows whose codes are all missing from the corpus are reported apart (`uncovered_decisions`):
their label names a code we lack, yet a sibling procedure may still answer them well.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from service.matcher import Decision, Matcher, Method
from service.textnorm import normalize

_EXPECTED_TO_DECISION = {"answer": Decision.ANSWER, "clarify": Decision.CLARIFY, "apologize": Decision.OUT_OF_SCOPE}


class Question(BaseModel):
    question: str
    codes: list[str] = Field(default_factory=list)
    expected: str = "answer"


def read_questions(path: Path) -> list[Question]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                row["codes"] = row.get("codes") or []
                out.append(Question.model_validate(row))
    return out


def evaluate(matcher: Matcher, questions: list[Question], answer_min: float, clarify_min: float) -> dict[str, Any]:
    known = {p.code for p in matcher.procedures}
    codes_of = [p.code for p in matcher.procedures]
    labelled = [q for q in questions if q.codes]
    covered = [q for q in labelled if known & set(q.codes)]
    ranked = [q for q in covered if q.expected in ("answer", "clarify")]
    methods = [Method.FUZZY, Method.BM25, Method.HYBRID]
    if matcher.embedding is not None:
        methods.insert(2, Method.EMBEDDING)
    per_method: dict[str, dict[str, float]] = {}
    for method in methods:
        hits1 = hits3 = 0
        for q in ranked:
            scores = matcher.method_scores(normalize(q.question), method)
            top = [codes_of[i] for i in np.argsort(-scores, kind="stable")[:3]]
            ok = set(q.codes)
            hits1 += top[0] in ok
            hits3 += bool(ok & set(top))
        n = max(len(ranked), 1)
        per_method[method.value] = {"top1": hits1 / n, "top3": hits3 / n}

    correct = judged = 0
    latencies = []
    confusion: dict[str, dict[str, int]] = {}
    uncovered: dict[str, int] = {}
    for q in questions:
        t0 = time.perf_counter()
        result = matcher.search(q.question, limit=3, answer_min=answer_min, clarify_min=clarify_min)
        latencies.append(time.perf_counter() - t0)
        if q.codes and not known & set(q.codes):
            uncovered[result.decision.value] = uncovered.get(result.decision.value, 0) + 1
            continue
        judged += 1
        correct += result.decision is _EXPECTED_TO_DECISION.get(q.expected, Decision.ANSWER)
        row = confusion.setdefault(q.expected, {})
        row[result.decision.value] = row.get(result.decision.value, 0) + 1
    hybrid = per_method[Method.HYBRID.value]
    return {
        "n": len(questions),
        "labelled": len(labelled),
        "coverage": len(covered) / max(len(labelled), 1),
        "ranked": len(ranked),
        "top1": hybrid["top1"],
        "top3": hybrid["top3"],
        "decision_accuracy": correct / max(judged, 1),
        "decision_rows": judged,
        "methods": per_method,
        "decisions": confusion,
        "uncovered_decisions": uncovered,
        "latency_ms_p50": 1000 * float(np.percentile(latencies, 50)) if latencies else 0.0,
        "procedures": len(matcher.procedures),
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"questions: {report['n']}  labelled: {report['labelled']}  procedures: {report['procedures']}",
        f"coverage: {report['coverage']:.3f}  (ranked rows: {report['ranked']})",
        f"decision accuracy: {report['decision_accuracy']:.3f}  (over {report['decision_rows']} rows)",
        "",
        f"{'method':<10} {'top1':>6} {'top3':>6}",
    ]
    for name, m in report["methods"].items():
        lines.append(f"{name:<10} {m['top1']:>6.3f} {m['top3']:>6.3f}")
    lines.append("")
    lines.append("decisions (expected -> got): " + json.dumps(report["decisions"], ensure_ascii=False))
    lines.append("uncovered rows got: " + json.dumps(report["uncovered_decisions"]))
    lines.append(f"search latency p50: {report['latency_ms_p50']:.1f} ms")
    return "\n".join(lines)


def fit_confidence(
    matcher: Matcher, questions: list[Question], method: Method = Method.HYBRID, iterations: int = 20000
) -> dict[str, float]:
    """Fit the logistic link from (top score, margin, vocabulary coverage) to P(top match is right and in scope).

    Positives are answer/clarify rows whose top-1 is an acceptable code; negatives are wrong
    top-1s and rows without codes (out of scope). Rows labelled with codes the corpus lacks
    are left out: their truth is unknown here.
    """
    known = {p.code for p in matcher.procedures}
    codes_of = [p.code for p in matcher.procedures]
    feats, target = [], []
    for q in questions:
        if q.codes and not known & set(q.codes):
            continue
        text = normalize(q.question)
        scores = matcher.method_scores(text, method)
        feats.append(list(matcher.confidence_features(text, scores)))
        first = codes_of[int(np.argmax(scores))]
        target.append(1.0 if q.codes and q.expected != "apologize" and first in q.codes else 0.0)
    x = np.c_[np.asarray(feats), np.ones(len(feats))]
    y = np.asarray(target)
    w = np.zeros(4)
    for _ in range(iterations):  # plain gradient descent: four parameters, convex loss
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        w -= 5.0 * x.T @ (p - y) / len(y)
    names = ("top_weight", "margin_weight", "coverage_weight", "bias")
    return {**{n: round(float(v), 3) for n, v in zip(names, w, strict=True)}, "rows": len(y)}
