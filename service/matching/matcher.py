"""Match a question to procedures: fuzzy + BM25 + embeddings, fused, with a decision.

Fusion is score-based: the fuzzy score (0..1) and the embedding score taken *relative to the
query's own median* (e5 cosines sit in a narrow 0.8-0.95 band, so absolute values say little)
are mixed with fixed weights; a logistic link turns the fused top score, its margin over the
runner-up and how much of the question's wording the corpus knows into a confidence. The
weights were chosen by the measurements in docs/matching.md, not per question.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import numpy as np

from service.config import ANSWER_MIN_CONFIDENCE, CLARIFY_MAX_CANDIDATES, CLARIFY_MIN_CONFIDENCE
from service.corpus import Corpus, Procedure
from service.matching.accents import AccentRestorer, everyday_frequencies
from service.matching.embedding import Embedder, EmbeddingScorer, cached_passage_embeddings
from service.matching.lexical import Bm25Scorer, FuzzyScorer, strip_question_words
from service.matching.lexicon import Lexicon, LexiconEntry
from service.matching.referrals import Referral, ReferralIndex, word_pairs
from service.matching.siblings import SiblingGroups
from service.matching.textnorm import NormalizedText, fold, normalize
from service.names import short_name

log = logging.getLogger(__name__)

T = TypeVar("T", float, np.ndarray)


class Decision(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    OUT_OF_SCOPE = "out_of_scope"


class Method(StrEnum):
    FUZZY = "fuzzy"
    EMBEDDING = "embedding"
    BM25 = "bm25"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class FusionParams:
    fuzzy_weight: float = 0.4
    embedding_weight: float = 0.6
    bm25_weight: float = 0.0  # BM25 taken relative to the query's best BM25 score
    embedding_scale: float = 0.16  # cosine gap over the median that counts as a full match
    # confidence = sigmoid(top_w * top + margin_w * (top - second) + coverage_w * coverage
    #                      + explained_w * explained + bias)
    top_weight: float = 4.9
    margin_weight: float = 14.17
    coverage_weight: float = 1.79
    bias: float = -3.74
    explained_weight: float = 0.0

    def link(self, top: T, margin: T, coverage: T, explained: T) -> T:
        """The calibrated confidence of a match (numbers or arrays of them): served and fitted alike."""
        z = (
            self.top_weight * top
            + self.margin_weight * margin
            + self.coverage_weight * coverage
            + self.explained_weight * explained
            + self.bias
        )
        out: T = 1.0 / (1.0 + np.exp(-z))
        return out


# Fitted on folds by `tthc-voice eval crossval` (docs/matching.md): the same weights won in
# every fold; only the confidence links differ between questions typed with and without marks.
HYBRID_PARAMS = FusionParams(
    fuzzy_weight=0.7,
    bm25_weight=0.2,
    embedding_weight=0.1,
    embedding_scale=0.12,
    top_weight=3.407,
    margin_weight=2.426,
    coverage_weight=0.055,
    explained_weight=3.395,
    bias=-3.067,
)
HYBRID_PARAMS_WITHOUT_MARKS = replace(
    HYBRID_PARAMS,
    top_weight=2.46,
    margin_weight=2.594,
    coverage_weight=1.703,
    explained_weight=3.1,
    bias=-3.42,
)
# Without embeddings the fuzzy scores sit higher for unrelated text, so the link shifts right.
# Fitted (in-sample, not yet on folds) for an answer band at 0.45; the bias is moved by
# logit(0.7) - logit(0.45) = +1.05 so the same questions pass today's 0.7 band.
LEXICAL_PARAMS = FusionParams(top_weight=8.4, margin_weight=9.56, coverage_weight=1.18, bias=-5.93)


@dataclass(frozen=True)
class Match:
    procedure: Procedure
    score: float


@dataclass(frozen=True)
class Query:
    """A question made ready for the scorers: what each of them reads."""

    normalized: NormalizedText  # the question as typed, cleaned
    accented: str  # tone marks restored where it had none, official terms appended: the embedding reads it
    folded: str  # the same without tone marks: fuzzy and BM25 read it
    restored: bool
    concepts: tuple[LexiconEntry, ...]


@dataclass(frozen=True)
class ScoreSet:
    """Per-procedure scores of each scorer for one query, before fusion."""

    fuzzy: np.ndarray
    bm25: np.ndarray
    embedding: np.ndarray | None


@dataclass(frozen=True)
class SearchResult:
    decision: Decision
    confidence: float
    matches: list[Match]
    normalized: NormalizedText
    referral: Referral | None = None  # out of scope: the procedure is done elsewhere, and where


def relative_bm25(bm25: np.ndarray) -> np.ndarray:
    """BM25 over the query's best BM25 score (last axis: one query, or one per row)."""
    best = bm25.max(axis=-1, keepdims=True) if bm25.size else np.zeros((*bm25.shape[:-1], 1), bm25.dtype)
    out: np.ndarray = np.divide(bm25, best, out=np.zeros_like(bm25), where=best > 0)
    return out


def embedding_gap(emb: np.ndarray) -> np.ndarray:
    """Cosines over the query's own median: e5 cosines sit in a narrow band, the gap says more."""
    out: np.ndarray = emb - np.median(emb, axis=-1, keepdims=True)
    return out


def combine(fuzzy: np.ndarray, bm25_rel: np.ndarray, emb_gap: np.ndarray | None, p: FusionParams) -> np.ndarray:
    """Weighted sum of the fuzzy score, relative BM25 and relative embedding score.

    Without embeddings the lexical weights are rescaled to sum to one, so the link fitted for
    lexical-only matching reads the same scale.
    """
    fused = p.fuzzy_weight * fuzzy + p.bm25_weight * bm25_rel
    if emb_gap is not None and p.embedding_weight:
        fused = fused + p.embedding_weight * np.clip(emb_gap / p.embedding_scale, 0.0, 1.0)
    elif p.fuzzy_weight + p.bm25_weight > 0:
        fused = fused / (p.fuzzy_weight + p.bm25_weight)
    out: np.ndarray = np.asarray(fused, dtype=np.float32)
    return out


def fuse(scores: ScoreSet, p: FusionParams) -> np.ndarray:
    emb = embedding_gap(scores.embedding) if scores.embedding is not None else None
    return combine(scores.fuzzy, relative_bm25(scores.bm25), emb, p)


def corpus_texts(procedures: list[Procedure], lexicon: Lexicon) -> list[str]:
    """Everything the corpus says in Vietnamese: what the tone-mark restorer learns from."""
    texts: list[str] = []
    for p in procedures:
        texts += [p.name, *p.aliases, *(d.name for d in p.documents), *p.steps, p.answer_vi]
    texts += [e.phrase for e in lexicon.entries] + [e.official for e in lexicon.entries]
    return texts


def procedure_phrases(proc: Procedure) -> list[str]:
    """Texts that name a procedure: short official name plus aliases, deduplicated."""
    phrases: list[str] = []
    seen: set[str] = set()
    for text in [short_name(proc.name), *proc.aliases]:
        key = normalize(text, drop_fillers=False).accented
        if key and key not in seen:
            seen.add(key)
            phrases.append(key)
    return phrases


def _embedding_phrases(phrases: list[str]) -> list[int]:
    """Indices worth embedding: skip tone-less twins of accented phrases (e5 reads accents)."""
    accented_folds = {fold(p) for p in phrases if p != fold(p)}
    return [i for i, p in enumerate(phrases) if p != fold(p) or p not in accented_folds]


class Matcher:
    def __init__(
        self,
        corpus: Corpus,
        embedder: Embedder | Future[Embedder] | None,
        cache_dir: Path,
        params: FusionParams | None = None,
        lexicon: Lexicon | None = None,
        params_without_marks: FusionParams | None = None,
        restore_accents: bool = True,
        preferred_codes: tuple[str, ...] = (),
        fuzzy_workers: int = 1,
        referrals: ReferralIndex | None = None,
    ) -> None:
        self.corpus = corpus
        self.referrals = referrals
        self.params = params or (HYBRID_PARAMS if embedder is not None else LEXICAL_PARAMS)
        # A question typed without tone marks reaches the embedding only through the restorer:
        # its own weights trust the lexical scorers more.
        self.params_without_marks = params_without_marks or (
            HYBRID_PARAMS_WITHOUT_MARKS if embedder is not None and params is None else self.params
        )
        self.lexicon = lexicon or Lexicon([])
        self.procedures = list(corpus.procedures)
        self.siblings = SiblingGroups(self.procedures, preferred_codes)
        per_procedure = [procedure_phrases(proc) for proc in self.procedures]
        phrases = [ph for own in per_procedure for ph in own]
        self.phrases = phrases
        self.phrase_owners = np.asarray([i for i, own in enumerate(per_procedure) for _ in own], dtype=np.int64)
        # Word pairs of each procedure's own names: how much of a question the top match explains.
        self.procedure_pairs: list[frozenset[tuple[str, str]]] = [
            frozenset(pair for ph in own for pair in word_pairs(fold(ph))) for own in per_procedure
        ]
        self._vocabulary: set[tuple[str, str]] = set()
        known = [*phrases, *(d.name for p in self.procedures for d in p.documents)]
        known += [e.phrase for e in self.lexicon.entries]
        for text in known:
            self._vocabulary |= word_pairs(fold(normalize(text, drop_fillers=False).accented))
        n = len(self.procedures)
        self.fuzzy = FuzzyScorer(phrases, self.phrase_owners, n, fuzzy_workers)
        self.bm25 = Bm25Scorer([" ".join(own) for own in per_procedure])
        self.restorer = (
            AccentRestorer(corpus_texts(self.procedures, self.lexicon), everyday_frequencies())
            if restore_accents and embedder is not None
            else None
        )
        if isinstance(embedder, Future):
            embedder = embedder.result()  # a model still loading while the indexes above were built
        self.embedding: EmbeddingScorer | None = None
        if embedder is not None:
            keep = _embedding_phrases(phrases)
            vectors = cached_passage_embeddings(embedder, [phrases[i] for i in keep], cache_dir)
            self.embedding = EmbeddingScorer(embedder, vectors, self.phrase_owners[keep], n)
        log.info(
            "matcher ready: %d procedures (%d sibling groups), %d phrases, %d lexicon entries, embeddings=%s",
            n,
            self.siblings.groups,
            len(phrases),
            len(self.lexicon),
            embedder is not None,
        )

    def prepare(self, question: str) -> Query:
        """Clean the question, restore its tone marks if it has none, add the official terms it implies."""
        text = normalize(question)
        accented = text.accented
        restored = False
        if self.restorer is not None and accented and not text.has_marks:
            accented = self.restorer.restore(accented)
            restored = accented != text.accented
        expansion = self.lexicon.expand(accented)
        if not expansion.entries and restored:
            expansion = self.lexicon.expand(text.accented)  # the folded form may still match
        return Query(text, expansion.text, fold(expansion.text), restored, expansion.entries)

    def score_set(self, query: Query) -> ScoreSet:
        pending = self.embedding.submit(query.accented) if self.embedding is not None else None
        fuzzy, bm25 = self.fuzzy.scores(query.folded), self.bm25.scores(query.folded)
        return ScoreSet(fuzzy, bm25, pending.result() if pending is not None else None)

    def method_scores(
        self, query: Query, method: Method, scores: ScoreSet | None = None, best: int | None = None
    ) -> np.ndarray:
        """One scorer's (or the fused) scores, each sibling group collapsed onto its representative.

        `best`: only the `best` highest fused scores are needed exact (the rest stay below them),
        which spares the fuzzy scorer most of its work.
        """
        if method is Method.HYBRID and scores is None and best is not None:
            return self._best_fused(query, best)
        s = scores or self.score_set(query)
        if method is Method.FUZZY:
            raw = s.fuzzy
        elif method is Method.BM25:
            raw = s.bm25
        elif method is Method.EMBEDDING:
            if s.embedding is None:
                raise RuntimeError("embedding scorer is disabled")
            raw = s.embedding
        else:
            raw = fuse(s, self.params_for(query))
        return self.siblings.collapse(raw)

    def _best_fused(self, query: Query, best: int) -> np.ndarray:
        """Fused scores, exact for the `best` top sibling groups, a lower bound elsewhere.

        Fusion rises with the fuzzy score, so fusing the fuzzy bounds bounds the fused score: a
        procedure whose upper bound stays under the `best`-th highest lower bound cannot be
        among the best, and only the others are scored exactly.
        """
        pending = self.embedding.submit(query.accented) if self.embedding is not None else None
        fuzzy, bm25 = self.fuzzy.bounds(query.folded), relative_bm25(self.bm25.scores(query.folded))
        emb = embedding_gap(pending.result()) if pending is not None else None
        p = self.params_for(query)
        lower = self.siblings.collapse(combine(fuzzy.lower, bm25, emb, p))
        bar = np.partition(lower, -best)[-best] if best < len(lower) else -np.inf
        open_ = np.flatnonzero(combine(fuzzy.upper, bm25, emb, p) >= bar)
        return self.siblings.collapse(combine(self.fuzzy.refine(fuzzy, open_), bm25, emb, p))

    def params_for(self, query: Query) -> FusionParams:
        return self.params if query.normalized.has_marks else self.params_without_marks

    def vocabulary_coverage(self, text: NormalizedText) -> float:
        """Share of the question's word pairs the corpus knows: low for "visa", "karaoke", "giá vàng"."""
        pairs = word_pairs(strip_question_words(text.folded))
        return len(pairs & self._vocabulary) / len(pairs) if pairs else 1.0

    def question_pairs(self, query: Query) -> frozenset[tuple[str, str]]:
        """The question's word pairs that name what it asks for, everyday phrases put in official terms."""
        folded = f" {strip_question_words(query.normalized.folded)} "
        for entry in query.concepts:
            folded = folded.replace(f" {fold(entry.phrase)} ", f" {fold(entry.official)} ")
        return frozenset(word_pairs(folded.strip()))

    def explained(self, pairs: frozenset[tuple[str, str]], index: int) -> float:
        """Share of the question's word pairs found in procedure `index`'s own names.

        Low when the best match shares words with the question but not its subject: "giấy phép
        nhập khẩu tàu cá" against "đăng ký thường trú", "trường trung học" against "trường tiểu học".
        """
        return len(pairs & self.procedure_pairs[index]) / len(pairs) if pairs else 1.0

    def confidence_features(self, query: Query, scores: np.ndarray) -> tuple[float, float, float, float]:
        """(top score, its margin over the runner-up, vocabulary coverage, share the top match explains)."""
        first, second = np.argsort(-scores, kind="stable")[:2] if len(scores) > 1 else (0, None)
        top = float(scores[first])
        runner_up = float(scores[second]) if second is not None else 0.0
        explained = self.explained(self.question_pairs(query), int(first))
        return top, top - runner_up, self.vocabulary_coverage(query.normalized), explained

    def confidence(
        self,
        top: float,
        second: float,
        coverage: float = 1.0,
        params: FusionParams | None = None,
        explained: float = 1.0,
    ) -> float:
        return float((params or self.params).link(top, top - second, coverage, explained))

    def search(
        self,
        query: str,
        limit: int = 5,
        method: Method = Method.HYBRID,
        answer_min: float = ANSWER_MIN_CONFIDENCE,
        clarify_min: float = CLARIFY_MIN_CONFIDENCE,
        clarify_max: int = CLARIFY_MAX_CANDIDATES,
    ) -> SearchResult:
        prepared = self.prepare(query)
        text = prepared.normalized
        if not text.folded:
            return SearchResult(Decision.OUT_OF_SCOPE, 0.0, [], text)
        best = max(limit, clarify_max, 2)
        scores = self.method_scores(prepared, method, best=best)
        order = np.argsort(-scores, kind="stable")[:best]
        top, margin, coverage, explained = self.confidence_features(prepared, scores)
        conf = self.confidence(top, top - margin, coverage, self.params_for(prepared), explained)
        matches = [Match(self.procedures[i], float(scores[i])) for i in order[:limit]]
        if conf >= answer_min:
            decision = Decision.ANSWER
        elif conf >= clarify_min:
            decision = Decision.CLARIFY
        else:
            decision = Decision.OUT_OF_SCOPE
        referral = self.referrals.refer(self.question_pairs(prepared), explained) if self.referrals else None
        if referral is not None:  # a procedure done elsewhere fits the question far better
            return SearchResult(Decision.OUT_OF_SCOPE, conf, matches, text, referral)
        return SearchResult(decision, conf, matches, text)
