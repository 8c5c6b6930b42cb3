"""Lexical scorers: rapidfuzz over names and aliases, and a plain BM25 baseline.

Both work on tone-folded text so that unaccented typing and ASR slips still meet the corpus.
"""

from __future__ import annotations

import re
from collections import defaultdict

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
        # Very short phrases ("khai tu") match inside too many questions: weigh by length.
        lengths = np.array([len(p.split()) for p in self._phrases], dtype=np.float32)
        self._length_weight = np.minimum(1.0, 0.55 + 0.15 * lengths)

    def scores(self, folded_query: str) -> np.ndarray:
        query = strip_question_words(folded_query)
        # token_set_ratio rewards a phrase contained in the question; plain ratio breaks its
        # many ties in favour of phrases of the question's own length.
        contained = token_set_scores(query, self._phrases, self._sorted_sets, self._by_word, self.workers)
        whole = process.cdist([query], self._phrases, scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        raw = (contained + whole) / 200.0 * self._length_weight
        return self._owners.best(raw[self._of_pair], empty=0.0)


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
