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

from service.matching.matcher import Decision, Matcher, Method

EXPECTED_DECISION = {"answer": Decision.ANSWER, "clarify": Decision.CLARIFY, "apologize": Decision.OUT_OF_SCOPE}


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
    labelled = [q for q in questions if q.codes]
    covered = [q for q in labelled if known & set(q.codes)]
    ranked = [q for q in covered if q.expected in ("answer", "clarify")]
    methods = [Method.FUZZY, Method.BM25, Method.HYBRID]
    if matcher.embedding is not None:
        methods.insert(2, Method.EMBEDDING)
    # Searches first, each timed on a question the matcher has not seen (no cache hit from an
    # earlier method), then every method read off one scoring of each question.
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
        correct += result.decision is EXPECTED_DECISION.get(q.expected, Decision.ANSWER)
        row = confusion.setdefault(q.expected, {})
        row[result.decision.value] = row.get(result.decision.value, 0) + 1

    per_method: dict[str, dict[str, float]] = {}
    by_marks: dict[str, dict[str, float]] = {}
    prepared = {q.question: matcher.prepare(q.question) for q in ranked}
    score_sets = {text: matcher.score_set(query) for text, query in prepared.items()}
    for method in methods:
        hits: list[tuple[bool, bool, bool]] = []  # (top-1, top-3, typed with tone marks)
        for q in ranked:
            query = prepared[q.question]
            scores = matcher.method_scores(query, method, score_sets[q.question])
            top = [int(i) for i in np.argsort(-scores, kind="stable")[:3]]
            ok = set(q.codes)
            # A sibling of an acceptable code (the same procedure from another province) counts.
            hits.append(
                (
                    bool(matcher.siblings.codes(top[0]) & ok),
                    any(matcher.siblings.codes(i) & ok for i in top),
                    query.normalized.has_marks,
                )
            )
        n = max(len(ranked), 1)
        per_method[method.value] = {"top1": sum(h[0] for h in hits) / n, "top3": sum(h[1] for h in hits) / n}
        if method is Method.HYBRID:
            for name, want in (("with_marks", True), ("without_marks", False)):
                part = [h for h in hits if h[2] is want]
                k = max(len(part), 1)
                by_marks[name] = {
                    "rows": len(part),
                    "top1": sum(h[0] for h in part) / k,
                    "top3": sum(h[1] for h in part) / k,
                }

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
        "hybrid_by_marks": by_marks,
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
    for name, m in report["hybrid_by_marks"].items():
        lines.append(f"hybrid, typed {name.replace('_', ' ')}: {m['top1']:.3f} / {m['top3']:.3f} ({m['rows']} rows)")
    lines.append("")
    lines.append("decisions (expected -> got): " + json.dumps(report["decisions"], ensure_ascii=False))
    lines.append("uncovered rows got: " + json.dumps(report["uncovered_decisions"]))
    lines.append(f"search latency p50: {report['latency_ms_p50']:.1f} ms")
    return "\n".join(lines)
