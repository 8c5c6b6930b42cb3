"""Match a question to procedures: fuzzy + BM25 + embeddings, fused, with a decision.

Fusion is score-based: the fuzzy score (0..1) and the embedding score taken *relative to the
query's own median* (e5 cosines sit in a narrow 0.8-0.95 band, so absolute values say little)
are mixed with fixed weights; a logistic link turns the fused top score, its margin over the
runner-up and how much of the question's wording the corpus knows into a confidence. The
weights were chosen by the measurements in docs/matching.md, not per question.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from service.corpus import Corpus, Procedure
from service.embedding import Embedder, EmbeddingScorer, cached_passage_embeddings
from service.importer import short_name
from service.lexical import Bm25Scorer, FuzzyScorer, strip_question_words
from service.textnorm import NormalizedText, fold, normalize

log = logging.getLogger(__name__)


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
    embedding_scale: float = 0.16  # cosine gap over the median that counts as a full match
    # confidence = sigmoid(top_w * top + margin_w * (top - second) + coverage_w * coverage + bias)
    top_weight: float = 4.9
    margin_weight: float = 14.17
    coverage_weight: float = 1.79
    bias: float = -3.74


# Fitted with `tthc-voice eval calibrate` on the development questions (docs/matching.md).
HYBRID_PARAMS = FusionParams()
# Without embeddings the fuzzy scores sit higher for unrelated text, so the link shifts right.
LEXICAL_PARAMS = FusionParams(top_weight=8.4, margin_weight=9.56, coverage_weight=1.18, bias=-6.98)


@dataclass(frozen=True)
class Match:
    procedure: Procedure
    score: float


@dataclass(frozen=True)
class SearchResult:
    decision: Decision
    confidence: float
    matches: list[Match]
    normalized: NormalizedText


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


def word_pairs(folded: str) -> set[tuple[str, str]]:
    words = folded.split()
    return set(zip(words, words[1:], strict=False))


def _embedding_phrases(phrases: list[str]) -> list[int]:
    """Indices worth embedding: skip tone-less twins of accented phrases (e5 reads accents)."""
    accented_folds = {fold(p) for p in phrases if p != fold(p)}
    return [i for i, p in enumerate(phrases) if p != fold(p) or p not in accented_folds]


class Matcher:
    def __init__(
        self,
        corpus: Corpus,
        embedder: Embedder | None,
        cache_dir: Path,
        params: FusionParams | None = None,
    ) -> None:
        self.corpus = corpus
        self.params = params or (HYBRID_PARAMS if embedder is not None else LEXICAL_PARAMS)
        self.procedures = list(corpus.procedures)
        phrases: list[str] = []
        owners: list[int] = []
        for i, proc in enumerate(self.procedures):
            for phrase in procedure_phrases(proc):
                phrases.append(phrase)
                owners.append(i)
        owner_arr = np.asarray(owners, dtype=np.int64)
        self._vocabulary: set[tuple[str, str]] = set()
        for text in [*phrases, *(d.name for p in self.procedures for d in p.documents)]:
            self._vocabulary |= word_pairs(fold(normalize(text, drop_fillers=False).accented))
        n = len(self.procedures)
        self.fuzzy = FuzzyScorer(phrases, owner_arr, n)
        self.bm25 = Bm25Scorer([" ".join(procedure_phrases(p)) for p in self.procedures])
        self.embedding: EmbeddingScorer | None = None
        if embedder is not None:
            keep = _embedding_phrases(phrases)
            vectors = cached_passage_embeddings(embedder, [phrases[i] for i in keep], cache_dir)
            self.embedding = EmbeddingScorer(embedder, vectors, owner_arr[keep], n)
        log.info("matcher ready: %d procedures, %d phrases, embeddings=%s", n, len(phrases), embedder is not None)

    def method_scores(self, text: NormalizedText, method: Method) -> np.ndarray:
        if method is Method.FUZZY:
            return self.fuzzy.scores(text.folded)
        if method is Method.BM25:
            return self.bm25.scores(text.folded)
        if method is Method.EMBEDDING:
            if self.embedding is None:
                raise RuntimeError("embedding scorer is disabled")
            return self.embedding.scores(text.accented)
        return self._hybrid(text)

    def _hybrid(self, text: NormalizedText) -> np.ndarray:
        p = self.params
        fuzzy = self.fuzzy.scores(text.folded)
        if self.embedding is None:
            return fuzzy
        emb = self.embedding.scores(text.accented)
        rel = np.clip((emb - np.median(emb)) / p.embedding_scale, 0.0, 1.0)
        fused: np.ndarray = (p.fuzzy_weight * fuzzy + p.embedding_weight * rel).astype(np.float32)
        return fused

    def vocabulary_coverage(self, text: NormalizedText) -> float:
        """Share of the question's word pairs the corpus knows: low for "visa", "karaoke", "giá vàng"."""
        pairs = word_pairs(strip_question_words(text.folded))
        return len(pairs & self._vocabulary) / len(pairs) if pairs else 1.0

    def confidence_features(self, text: NormalizedText, scores: np.ndarray) -> tuple[float, float, float]:
        """(top score, its margin over the runner-up, vocabulary coverage): what the link reads."""
        first, second = np.argsort(-scores, kind="stable")[:2] if len(scores) > 1 else (0, None)
        top = float(scores[first])
        runner_up = float(scores[second]) if second is not None else 0.0
        return top, top - runner_up, self.vocabulary_coverage(text)

    def confidence(self, top: float, second: float, coverage: float = 1.0) -> float:
        p = self.params
        z = p.top_weight * top + p.margin_weight * (top - second) + p.coverage_weight * coverage + p.bias
        return 1.0 / (1.0 + math.exp(-z))

    def search(
        self,
        query: str,
        limit: int = 5,
        method: Method = Method.HYBRID,
        answer_min: float = 0.55,
        clarify_min: float = 0.2,
        clarify_max: int = 3,
    ) -> SearchResult:
        text = normalize(query)
        if not text.folded:
            return SearchResult(Decision.OUT_OF_SCOPE, 0.0, [], text)
        scores = self.method_scores(text, method)
        order = np.argsort(-scores, kind="stable")[: max(limit, clarify_max, 2)]
        top, margin, coverage = self.confidence_features(text, scores)
        conf = self.confidence(top, top - margin, coverage)
        matches = [Match(self.procedures[i], float(scores[i])) for i in order[:limit]]
        if conf >= answer_min:
            decision = Decision.ANSWER
        elif conf >= clarify_min:
            decision = Decision.CLARIFY
        else:
            decision = Decision.OUT_OF_SCOPE
        return SearchResult(decision, conf, matches, text)
