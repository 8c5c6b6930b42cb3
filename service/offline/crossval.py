"""Fit the fusion weights and the confidence link on folds; report only held-out figures.

Weights chosen and reported on the same questions do not carry over to new ones (dev 0.87
top-1, unseen 0.70). So:
- a fixed fifth of the labelled questions (by a hash of the text) is set aside as the
  *test* split and never used for fitting;
- the rest is cut into k folds; each fold is scored with parameters fitted on the other folds
  plus the *alias rows*: the hand-written aliases, each asked as a question of a matcher built
  without it (aliases are citizens' phrasings too, and there are thousands);
- the parameters shipped are fitted on all the non-test rows and reported on the test split.

Scores are computed once per row; the grid over fusion weights then costs only numpy sums.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from service.corpus import Corpus
from service.matching.embedding import Embedder
from service.matching.lexicon import Lexicon
from service.matching.matcher import Decision, FusionParams, Matcher, ScoreSet, combine, embedding_gap, relative_bm25
from service.matching.textnorm import fold, normalize
from service.offline.evaluation import EXPECTED_DECISION, Question
from service.offline.importer import own_aliases

log = logging.getLogger(__name__)

FUZZY_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
BM25_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4)
SCALES = (0.12, 0.16, 0.2, 0.24, 0.28)
# Alias rows together weigh a quarter of the labelled questions when fusion weights are chosen:
# cross-validated top-1 0.874 with every alias row counted once, 0.878 at a half, 0.882 at a quarter.
ALIAS_SHARE = 0.25
ANSWER_MINS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
CLARIFY_GAPS = (0.05, 0.1, 0.15, 0.2)


def is_test_question(text: str, share: int = 5) -> bool:
    """The fixed test split: one question in `share`, by a hash of its text (stable across runs)."""
    return int(hashlib.sha256(text.strip().encode()).hexdigest(), 16) % share == 0


def has_tone_marks(text: str) -> bool:
    return normalize(text).has_marks


@dataclass
class Row:
    question: str
    codes: frozenset[str]
    expected: str
    scores: ScoreSet
    coverage: float
    accented: bool
    pairs: frozenset[tuple[str, str]]
    alias: bool = False


@dataclass(frozen=True)
class Fit:
    params: FusionParams  # questions typed with tone marks
    params_without_marks: FusionParams  # restored questions: the embedding is less sure of them
    answer_min: float
    clarify_min: float


def score_rows(matcher: Matcher, questions: Iterable[Question], alias: bool = False) -> list[Row]:
    rows = []
    for q in questions:
        query = matcher.prepare(q.question)
        rows.append(
            Row(
                q.question,
                frozenset(q.codes),
                q.expected,
                matcher.score_set(query),
                matcher.vocabulary_coverage(query.normalized),
                has_tone_marks(q.question),
                matcher.question_pairs(query),
                alias,
            )
        )
    return rows


def handwritten_aliases(corpus: Corpus) -> list[tuple[str, str]]:
    """(code, alias) for every alias that is not a plain variant of the official name."""
    return [(p.code, a) for p in corpus.procedures for a in own_aliases(p.name, p.aliases)]


def alias_rows(
    corpus: Corpus,
    build: Callable[[Corpus], Matcher],
    folds: int = 5,
    limit: int | None = None,
    seed: int = 13,
) -> list[Row]:
    """Each hand-written alias asked of a matcher that was built without its fold of aliases."""
    pairs = handwritten_aliases(corpus)
    random.Random(seed).shuffle(pairs)
    if limit is not None:
        pairs = pairs[:limit]
    rows: list[Row] = []
    for k in range(folds):
        held = pairs[k::folds]
        drop: dict[str, set[str]] = {}
        for code, a in held:
            drop.setdefault(code, set()).add(a)
        procs = []
        for p in corpus.procedures:
            if p.code in drop:
                kept = [a for a in p.aliases if a not in drop[p.code]]
                p = p.model_copy(update={"aliases": kept or [p.name]})
            procs.append(p)
        matcher = build(replace(corpus, procedures=tuple(procs)))
        asked = [Question(question=a, codes=[c]) for c, a in held]
        rows += score_rows(matcher, asked + [_stripped(q) for q in asked if has_tone_marks(q.question)], alias=True)
        log.info("alias fold %d: %d rows", k + 1, len(held))
    return rows


class Batch:
    """Rows stacked into matrices, so a grid over fusion weights costs numpy sums only."""

    def __init__(self, matcher: Matcher, rows: list[Row]) -> None:
        self.rows = rows
        n, m = len(rows), len(matcher.procedures)
        self.fuzzy = np.stack([r.scores.fuzzy for r in rows]) if rows else np.zeros((0, m), np.float32)
        self.bm25 = relative_bm25(np.stack([r.scores.bm25 for r in rows]) if rows else np.zeros((0, m), np.float32))
        has_emb = bool(rows) and rows[0].scores.embedding is not None
        emb = np.stack([r.scores.embedding for r in rows if r.scores.embedding is not None]) if has_emb else None
        self.emb_gap = embedding_gap(emb) if emb is not None else None
        self.coverage = np.array([r.coverage for r in rows], dtype=np.float32)
        self._matcher = matcher
        self.ok = np.zeros((n, m), dtype=bool)
        codes = [matcher.siblings.codes(j) for j in range(m)]
        code_index: dict[str, list[int]] = {}
        for j, group in enumerate(codes):
            for c in group:
                code_index.setdefault(c, []).append(j)
        for i, r in enumerate(rows):
            for c in r.codes:
                self.ok[i, code_index.get(c, [])] = True
        self.ranked_rows = np.array([bool(r.codes) and r.expected in ("answer", "clarify") for r in rows], dtype=bool)
        self.expected = [EXPECTED_DECISION.get(r.expected, Decision.ANSWER) for r in rows]
        self.labelled = np.array([not r.alias for r in rows], dtype=bool)

    def fused(self, p: FusionParams) -> np.ndarray:
        """The served fusion and sibling collapse, on every row at once."""
        return self._matcher.siblings.collapse(combine(self.fuzzy, self.bm25, self.emb_gap, p))

    def hits(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: is the first an acceptable code, is one of the first three."""
        top3 = np.argpartition(-scores, 2, axis=1)[:, :3]
        first = np.argmax(scores, axis=1)
        rows = np.arange(len(scores))
        first_ok: np.ndarray = self.ok[rows, first]
        top3_ok: np.ndarray = np.asarray(self.ok[rows[:, None], top3].any(axis=1))
        return first_ok, top3_ok

    def features(self, scores: np.ndarray) -> np.ndarray:
        two = -np.partition(-scores, 1, axis=1)[:, :2]
        first = np.argmax(scores, axis=1)
        explained = [self._matcher.explained(r.pairs, int(i)) for r, i in zip(self.rows, first, strict=True)]
        out: np.ndarray = np.c_[two[:, 0], two[:, 0] - two[:, 1], self.coverage, explained]
        return out

    def subset(self, mask: np.ndarray) -> Batch:
        other = object.__new__(Batch)
        other.__dict__.update(self.__dict__)
        other.rows = [r for r, k in zip(self.rows, mask, strict=True) if k]
        for name in ("fuzzy", "bm25", "coverage", "ok", "ranked_rows", "labelled"):
            setattr(other, name, getattr(self, name)[mask])
        other.emb_gap = self.emb_gap[mask] if self.emb_gap is not None else None
        other.expected = [e for e, k in zip(self.expected, mask, strict=True) if k]
        return other

    def __len__(self) -> int:
        return len(self.rows)


def ranking_quality(batch: Batch, p: FusionParams, alias_share: float | None = None) -> tuple[float, float]:
    """Top-1 and top-3 over ranked rows; with `alias_share`, alias rows together weigh that
    share of the labelled questions (thousands of short aliases must not outvote real questions)."""
    r = batch.ranked_rows
    if not r.any():
        return 0.0, 0.0
    h1, h3 = batch.hits(batch.fused(p))
    weight = np.ones(len(batch))
    if alias_share is not None:
        alias = ~batch.labelled
        n_alias, n_real = int((alias & r).sum()), int((~alias & r).sum())
        if n_alias and n_real:
            weight[alias] = alias_share * n_real / n_alias
    w = weight[r]
    return float((h1[r] * w).sum() / w.sum()), float((h3[r] * w).sum() / w.sum())


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 4000, l2: float = 1e-3) -> np.ndarray:
    """Plain gradient descent on the log loss: five parameters, convex."""
    xb = np.c_[x, np.ones(len(x))]
    w = np.zeros(xb.shape[1])
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-(xb @ w)))
        w -= 5.0 * (xb.T @ (prob - y) / len(y) + l2 * np.r_[w[:-1], 0.0])
    return w


def decide(conf: float, answer_min: float, clarify_min: float) -> Decision:
    if conf >= answer_min:
        return Decision.ANSWER
    return Decision.CLARIFY if conf >= clarify_min else Decision.OUT_OF_SCOPE


def _confidences(p: FusionParams, feats: np.ndarray) -> np.ndarray:
    return p.link(feats[:, 0], feats[:, 1], feats[:, 2], feats[:, 3])


def fit_params(batch: Batch) -> FusionParams:
    """Fusion weights by ranking quality on all rows, then the confidence link on labelled rows."""
    best: tuple[float, FusionParams] | None = None
    for wf in FUZZY_WEIGHTS:
        for wb in BM25_WEIGHTS:
            if wf + wb > 1.0:
                continue
            for scale in SCALES:
                p = FusionParams(fuzzy_weight=wf, bm25_weight=wb, embedding_weight=1 - wf - wb, embedding_scale=scale)
                t1, t3 = ranking_quality(batch, p, ALIAS_SHARE)
                if best is None or t1 + 0.5 * t3 > best[0] + 1e-9:
                    best = (t1 + 0.5 * t3, p)
    assert best is not None
    params = best[1]
    labelled = batch.subset(batch.labelled)
    scores = labelled.fused(params)
    h1, _ = labelled.hits(scores)
    answerable = np.array([e is not Decision.OUT_OF_SCOPE for e in labelled.expected], dtype=bool)
    target = (h1 & answerable & labelled.ok.any(axis=1)).astype(np.float64)
    w = _logistic(labelled.features(scores), target)
    return replace(
        params,
        top_weight=float(w[0]),
        margin_weight=float(w[1]),
        coverage_weight=float(w[2]),
        explained_weight=float(w[3]),
        bias=float(w[4]),
    )


def _marked(batch: Batch) -> np.ndarray:
    return np.array([r.accented for r in batch.rows], dtype=bool)


def confidences(batch: Batch, f: Fit) -> np.ndarray:
    """Each row's confidence under the parameters for questions with or without tone marks."""
    marked = _marked(batch)
    out = np.zeros(len(batch), dtype=np.float64)
    for mask, p in ((marked, f.params), (~marked, f.params_without_marks)):
        if mask.any():
            sub = batch.subset(mask)
            out[mask] = _confidences(p, sub.features(sub.fused(p)))
    return out


def utility(decision: Decision, expected: Decision, first_right: bool, top3_right: bool) -> float:
    """What a decision is worth to the citizen: a wrong answer costs more than asking back.

    Answering right +1, answering wrong -1 (she goes to the wrong place with the wrong
    papers); asking back +0.5 when the right procedure is offered, +1 where asking back was
    the right thing; refusing an out-of-scope question +1, a question the commune handles 0.
    """
    if decision is Decision.ANSWER:
        if expected is Decision.OUT_OF_SCOPE:
            return -1.0
        return (1.0 if expected is Decision.ANSWER else 0.5) if first_right else -1.0
    if decision is Decision.CLARIFY:
        if expected is Decision.OUT_OF_SCOPE:
            return 0.0
        return (1.0 if expected is Decision.CLARIFY else 0.5) if top3_right else 0.0
    return 1.0 if expected is Decision.OUT_OF_SCOPE else 0.0


def _hits_by_marks(batch: Batch, f: Fit) -> tuple[np.ndarray, np.ndarray]:
    marked = _marked(batch)
    h1 = np.zeros(len(batch), dtype=bool)
    h3 = np.zeros(len(batch), dtype=bool)
    for mask, p in ((marked, f.params), (~marked, f.params_without_marks)):
        if mask.any():
            sub = batch.subset(mask)
            h1[mask], h3[mask] = sub.hits(sub.fused(p))
    return h1, h3


def fit(batch: Batch) -> Fit:
    """One set of weights for questions with tone marks, one for those without; the answer and
    clarify bands maximise the citizen's utility on the labelled questions."""
    marked = _marked(batch)
    with_marks = fit_params(batch.subset(marked))
    without = fit_params(batch.subset(~marked)) if (~marked).any() else with_marks
    partial = Fit(with_marks, without, 0.0, 0.0)
    labelled = batch.subset(batch.labelled)
    conf = confidences(labelled, partial)
    h1, h3 = _hits_by_marks(labelled, partial)
    best_band: tuple[float, float, float] | None = None
    for a in ANSWER_MINS:
        for gap in CLARIFY_GAPS:
            c = max(a - gap, 0.0)
            value = sum(
                utility(decide(x, a, c), e, bool(r1), bool(r3))
                for x, e, r1, r3 in zip(conf, labelled.expected, h1, h3, strict=True)
            )
            if best_band is None or value > best_band[0] + 1e-9:
                best_band = (value, a, c)
    assert best_band is not None
    return Fit(with_marks, without, best_band[1], best_band[2])


def judge_rows(batch: Batch, f: Fit) -> dict[str, Any]:
    """Top-1/top-3 over answer/clarify rows, decision accuracy and answer precision, split by tone marks."""
    marked = _marked(batch)
    conf = confidences(batch, f)
    decided = [decide(x, f.answer_min, f.clarify_min) for x in conf]
    decisions_ok = np.array([d is e for d, e in zip(decided, batch.expected, strict=True)], dtype=bool)
    h1, h3 = _hits_by_marks(batch, f)
    answered = np.array([d is Decision.ANSWER for d in decided], dtype=bool)
    in_scope = np.array([e is not Decision.OUT_OF_SCOPE for e in batch.expected], dtype=bool)
    out: dict[str, Any] = {}
    for name, mask in (("all", np.ones(len(batch), bool)), ("with_marks", marked), ("without_marks", ~marked)):
        ranked = mask & batch.ranked_rows
        given = mask & answered
        out[name] = {
            "rows": int(mask.sum()),
            "ranked": int(ranked.sum()),
            "top1": float(h1[ranked].mean()) if ranked.any() else 0.0,
            "top3": float(h3[ranked].mean()) if ranked.any() else 0.0,
            "decision": float(decisions_ok[mask].mean()) if mask.any() else 0.0,
            "answered": int(given.sum()),
            # of the answers given, how many name the right procedure for an in-scope question
            "answer_precision": float((h1 & in_scope)[given].mean()) if given.any() else 0.0,
        }
    return out


def single_scorers(batch: Batch) -> dict[str, tuple[float, float]]:
    one = {
        "fuzzy": FusionParams(fuzzy_weight=1.0, embedding_weight=0.0),
        "bm25": FusionParams(fuzzy_weight=0.0, bm25_weight=1.0, embedding_weight=0.0),
        "embedding": FusionParams(fuzzy_weight=0.0, embedding_weight=1.0),
    }
    return {name: ranking_quality(batch, p) for name, p in one.items()}


def cross_validate(
    matcher: Matcher, questions: list[Question], extra_rows: list[Row], folds: int = 5, seed: int = 7
) -> dict[str, Any]:
    """Held-out-fold figures on the non-test questions, then the final fit judged on the test split.

    Every question also appears with its tone marks removed (training rows in the training
    folds, `marks_removed` figures in the held-out fold): a third of citizens type that way.
    """
    known = {p.code for p in matcher.procedures}
    usable = [q for q in questions if not q.codes or known & set(q.codes)]
    tune_q = [q for q in usable if not is_test_question(q.question)]
    test_q = [q for q in usable if is_test_question(q.question)]
    tune = score_rows(matcher, tune_q)
    tune_stripped = score_rows(matcher, [_stripped(q) for q in tune_q])
    test = Batch(matcher, score_rows(matcher, test_q))
    test_stripped = Batch(matcher, score_rows(matcher, [_stripped(q) for q in test_q if has_tone_marks(q.question)]))
    order = list(range(len(tune)))
    random.Random(seed).shuffle(order)
    held_all: list[Row] = []
    held_results: list[dict[str, Any]] = []
    fits = []
    for k in range(folds):
        held_idx = set(order[k::folds])
        train = [r for i, r in enumerate(tune) if i not in held_idx]
        train += [r for i, r in enumerate(tune_stripped) if i not in held_idx and tune[i].accented]
        f = fit(Batch(matcher, train + extra_rows))
        fits.append(f)
        held = [r for i, r in enumerate(tune) if i in held_idx]
        result = judge_rows(Batch(matcher, held), f)
        stripped_held = [tune_stripped[i] for i in sorted(held_idx) if tune[i].accented]
        result["marks_removed"] = judge_rows(Batch(matcher, stripped_held), f)["all"]
        held_results.append(result)
        held_all += held
        log.info("fold %d: %s", k + 1, result["all"])
    final = fit(Batch(matcher, tune + [r for i, r in enumerate(tune_stripped) if tune[i].accented] + extra_rows))
    return {
        "tune_rows": len(tune),
        "test_rows": len(test),
        "alias_rows": len(extra_rows),
        "cross_validated": _pool(held_results),
        "cross_validated_single": single_scorers(Batch(matcher, held_all)),
        "test": {**judge_rows(test, final), "marks_removed": judge_rows(test_stripped, final)["all"]},
        "test_single": single_scorers(test),
        "fold_params": [_describe(f) for f in fits],
        "final": _describe(final),
    }


def _stripped(q: Question) -> Question:
    return q.model_copy(update={"question": fold(normalize(q.question).accented)})


def _pool(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Row-weighted mean of per-fold figures."""
    out: dict[str, Any] = {}
    for split in results[0]:
        rows = sum(r[split]["rows"] for r in results)
        ranked = sum(r[split]["ranked"] for r in results)
        out[split] = {
            "rows": rows,
            "ranked": ranked,
            "top1": sum(r[split]["top1"] * r[split]["ranked"] for r in results) / max(ranked, 1),
            "top3": sum(r[split]["top3"] * r[split]["ranked"] for r in results) / max(ranked, 1),
            "decision": sum(r[split]["decision"] * r[split]["rows"] for r in results) / max(rows, 1),
            "answered": sum(r[split]["answered"] for r in results),
            "answer_precision": sum(r[split]["answer_precision"] * r[split]["answered"] for r in results)
            / max(sum(r[split]["answered"] for r in results), 1),
        }
    return out


def _describe(f: Fit) -> dict[str, Any]:
    def one(p: FusionParams) -> dict[str, float]:
        return {
            "fuzzy_weight": p.fuzzy_weight,
            "bm25_weight": p.bm25_weight,
            "embedding_weight": round(p.embedding_weight, 3),
            "embedding_scale": p.embedding_scale,
            "top_weight": round(p.top_weight, 3),
            "margin_weight": round(p.margin_weight, 3),
            "coverage_weight": round(p.coverage_weight, 3),
            "explained_weight": round(p.explained_weight, 3),
            "bias": round(p.bias, 3),
        }

    return {
        "with_marks": one(f.params),
        "without_marks": one(f.params_without_marks),
        "answer_min": f.answer_min,
        "clarify_min": round(f.clarify_min, 3),
    }


def format_crossval(report: dict[str, Any]) -> str:
    lines = [
        f"rows: {report['tune_rows']} tuning questions in folds, {report['alias_rows']} alias rows (training only), "
        f"{report['test_rows']} test questions (never fitted on)",
        "",
        f"{'':<30} {'rows':>5} {'top1':>6} {'top3':>6} {'decision':>9} {'answered':>9} {'precision':>9}",
    ]
    for label, key in (("cross-validated", "cross_validated"), ("test split", "test")):
        for split, m in report[key].items():
            lines.append(
                f"{label + ' ' + split:<30} {m['rows']:>5} {m['top1']:>6.3f} {m['top3']:>6.3f} {m['decision']:>9.3f}"
                f" {m['answered']:>9} {m['answer_precision']:>9.3f}"
            )
    lines.append("")
    for label, key in (("cross-validated", "cross_validated_single"), ("test split", "test_single")):
        for name, (t1, t3) in report[key].items():
            lines.append(f"{label + ' ' + name:<30} {'':>5} {t1:>6.3f} {t3:>6.3f}")
    lines.append("")
    lines.append(f"final fit: {report['final']}")
    return "\n".join(lines)


def build_for_eval(
    embedder: Embedder | None, cache_dir: Path, lexicon: Lexicon, **kwargs: Any
) -> Callable[[Corpus], Matcher]:
    def build(corpus: Corpus) -> Matcher:
        return Matcher(corpus, embedder, cache_dir, lexicon=lexicon, **kwargs)

    return build
