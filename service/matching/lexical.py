"""Lexical scorers: rapidfuzz over names and aliases, and a plain BM25 baseline.

Both work on tone-folded text so that unaccented typing and ASR slips still meet the corpus.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from service.matching.owners import PhraseOwners
from service.matching.textnorm import fold

# Words that ask *about* a procedure (papers, cost, place, time) but do not say which one.
_QUESTION_WORDS = re.compile(
    r"\b(?:can|phai|mang theo|mang|nhung|giay to|ho so|gi|gom|o dau|di dau|nop|tai dau|den dau|"
    r"bao nhieu tien|bao nhieu|het|ton|mat bao lau|bao lau|may ngay|lam sao|the nao|nhu the nao|ra sao|"
    r"lam the nao|thu tuc|muon|thi|em|toi|minh|chau|nha minh|nha em|xin|hoi)\b"
)


def strip_question_words(folded: str) -> str:
    """Drop words that ask about papers, fees or places; keep what names the procedure."""
    stripped = re.sub(r"\s+", " ", _QUESTION_WORDS.sub(" ", folded)).strip()
    return stripped or folded


def token_set_scores(
    query: str, phrases: list[str], sorted_sets: list[str], by_word: dict[str, np.ndarray], workers: int = 1
) -> np.ndarray:
    """rapidfuzz's token_set_ratio of `query` against every phrase, exactly, at a third of the cost.

    For a phrase sharing no word with the query, token_set_ratio is the plain ratio of the two
    sorted word sets, which `cdist` computes in one fast pass over precomputed strings; only
    the phrases sharing a word (found through `by_word`) need the full scorer. That pass is
    most of the cost (~2,000 phrases for a typical question); `cdist` splits its rows over
    `workers` threads, so the phrases are passed as the rows (the ratio is symmetric).
    """
    words = set(query.split())
    scores: np.ndarray = process.cdist(
        [" ".join(sorted(words))], sorted_sets, scorer=fuzz.ratio, dtype=np.float32, workers=1
    )[0]
    hits = [by_word[w] for w in words if w in by_word]
    if hits:
        sharing = np.unique(np.concatenate(hits))
        scores[sharing] = process.cdist(
            [phrases[i] for i in sharing], [query], scorer=fuzz.token_set_ratio, dtype=np.float32, workers=workers
        )[:, 0]
    return scores


# Slack on the closed-form bounds (0..100 scale): floating-point rounding never crosses it.
_BOUND_SLACK = 0.01


def _norm(distance: np.ndarray, length_sum: np.ndarray) -> np.ndarray:
    """rapidfuzz's normalised similarity, 0..100, of an Indel distance over a length sum."""
    out: np.ndarray = 100.0 * (1.0 - distance / np.maximum(length_sum, 1))
    return out


@dataclass(frozen=True)
class FuzzyBounds:
    """One query's fuzzy score of every procedure known within [lower, upper].

    token_set_ratio costs ~3 µs a phrase, almost all of it splitting and sorting words, and a
    typical question shares a word ("cap", "dang ky") with half the phrases. Its two
    intersection ratios follow from word lengths alone and its third is bounded by them, so a
    caller that needs only the best few procedures scores exactly just those that can still
    be among them (`FuzzyScorer.refine`, `Matcher.method_scores`).
    """

    lower: np.ndarray  # per procedure
    upper: np.ndarray
    query: str
    tsr_lower: np.ndarray  # per unique phrase: token_set_ratio, exact outside `open_phrases`
    whole: np.ndarray  # per unique phrase: plain ratio, exact
    open_phrases: np.ndarray  # unique phrases whose token_set_ratio is only bounded


class FuzzyScorer:
    """Best rapidfuzz match between the query and any phrase of each procedure."""

    def __init__(self, phrases: list[str], owners: np.ndarray, n_procedures: int, workers: int = 1) -> None:
        self.workers = workers
        # Accented phrases and their tone-less twins fold to one string: score each string once.
        folded = [fold(p) for p in phrases]
        index: dict[str, int] = {}
        self._of_pair = np.array([index.setdefault(f, len(index)) for f in folded], dtype=np.int64)
        self._phrases = list(index)
        self._sorted_sets = [" ".join(sorted(set(p.split()))) for p in self._phrases]
        by_word: dict[str, list[int]] = defaultdict(list)
        for i, phrase in enumerate(self._phrases):
            for word in set(phrase.split()):
                by_word[word].append(i)
        self._by_word = {w: np.asarray(ids, dtype=np.int64) for w, ids in by_word.items()}
        self._owners = PhraseOwners(owners, n_procedures)
        self._pair_owners = np.asarray(owners, dtype=np.int64)
        self._n_procedures = n_procedures
        unique_words = [set(p.split()) for p in self._phrases]
        self._word_count = np.array([len(w) for w in unique_words], dtype=np.float64)
        self._word_chars = np.array([sum(map(len, w)) for w in unique_words], dtype=np.float64)
        # Very short phrases ("khai tu") match inside too many questions: weigh by length.
        lengths = np.array([len(p.split()) for p in self._phrases], dtype=np.float32)
        self._length_weight = np.minimum(1.0, 0.55 + 0.15 * lengths)

    def scores(self, folded_query: str) -> np.ndarray:
        query = strip_question_words(folded_query)
        # token_set_ratio rewards a phrase contained in the question; plain ratio breaks its
        # many ties in favour of phrases of the question's own length.
        contained = token_set_scores(query, self._phrases, self._sorted_sets, self._by_word, self.workers)
        whole = process.cdist([query], self._phrases, scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        return self._per_procedure(contained, whole)

    def _per_procedure(self, contained: np.ndarray, whole: np.ndarray) -> np.ndarray:
        raw = (contained + whole) / 200.0 * self._length_weight
        return self._owners.best(raw[self._of_pair], empty=0.0)

    def bounds(self, folded_query: str) -> FuzzyBounds:
        """The scores of `scores`, bounded: exact for phrases sharing no word with the query.

        For a phrase sharing words, rapidfuzz's token_set_ratio is the best of ratio(sect,
        sect+ab), ratio(sect, sect+ba) and ratio(sect+ab, sect+ba), where sect is the sorted
        shared words and ab, ba the words only one side has. The first two depend on lengths
        alone; the third lies between the Indel distances |ab - ba| and ab + ba.
        """
        query = strip_question_words(folded_query)
        words = set(query.split())
        sorted_words = " ".join(sorted(words))
        tsr = process.cdist([sorted_words], self._sorted_sets, scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        whole = process.cdist([query], self._phrases, scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        upper = tsr.copy()
        shared = [w for w in words if w in self._by_word]
        open_phrases = np.zeros(0, dtype=np.int64)
        if shared:
            hits = np.concatenate([self._by_word[w] for w in shared])
            sect_n = np.bincount(hits, minlength=len(self._phrases)).astype(np.float64)
            weights = np.concatenate([np.full(len(self._by_word[w]), len(w), dtype=np.float64) for w in shared])
            sect_chars = np.bincount(hits, weights=weights, minlength=len(self._phrases))
            ids = np.flatnonzero(sect_n)
            n, chars = sect_n[ids], sect_chars[ids]
            sect = chars + n - 1
            ab_n, ba_n = len(words) - n, self._word_count[ids] - n
            # Lengths of the joined words only the query (ab) or only the phrase (ba) has.
            ab = sum(map(len, words)) - chars + np.maximum(ab_n - 1, 0)
            ba = self._word_chars[ids] - chars + np.maximum(ba_n - 1, 0)
            sect_ab, sect_ba = sect + 1 + ab, sect + 1 + ba
            by_length = np.maximum(_norm(1 + ab, sect + sect_ab), _norm(1 + ba, sect + sect_ba))
            low = np.maximum(by_length, _norm(ab + ba, sect_ab + sect_ba)) - _BOUND_SLACK
            high = np.maximum(by_length, _norm(np.abs(ab - ba), sect_ab + sect_ba)) + _BOUND_SLACK
            contained = (ab_n == 0) | (ba_n == 0)  # one side's words all in the other: exactly 100
            tsr[ids] = np.where(contained, 100.0, low)
            upper[ids] = np.where(contained, 100.0, high)
            open_phrases = ids[~contained]
        return FuzzyBounds(
            lower=self._per_procedure(tsr, whole),
            upper=self._per_procedure(upper, whole),
            query=query,
            tsr_lower=tsr,
            whole=whole,
            open_phrases=open_phrases,
        )

    def refine(self, bounds: FuzzyBounds, procedures: np.ndarray) -> np.ndarray:
        """Exact scores for `procedures`; for the others, at least the lower bound and at most the exact score."""
        wanted = np.zeros(self._n_procedures, dtype=bool)
        wanted[procedures] = True
        phrases = np.zeros(len(self._phrases), dtype=bool)
        phrases[self._of_pair[wanted[self._pair_owners]]] = True
        todo = bounds.open_phrases[phrases[bounds.open_phrases]]
        tsr = bounds.tsr_lower.copy()
        if len(todo):
            tsr[todo] = process.cdist(
                [self._phrases[i] for i in todo],
                [bounds.query],
                scorer=fuzz.token_set_ratio,
                dtype=np.float32,
                workers=self.workers,
            )[:, 0]
        return self._per_procedure(tsr, bounds.whole)


class Bm25Scorer:
    """Okapi BM25 over each procedure's name and aliases (one document per procedure)."""

    def __init__(self, documents: list[str]) -> None:
        self._retriever = bm25s.BM25()
        tokens = bm25s.tokenize([fold(d) for d in documents], stopwords=None, show_progress=False)
        self._retriever.index(tokens, show_progress=False)
        self._n = len(documents)

    def scores(self, folded_query: str) -> np.ndarray:
        tokens = bm25s.tokenize([folded_query], stopwords=None, show_progress=False, return_ids=False)[0]
        if not tokens:
            return np.zeros(self._n, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
