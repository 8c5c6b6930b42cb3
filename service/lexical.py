"""Lexical scorers: rapidfuzz over names and aliases, and a plain BM25 baseline.

Both work on tone-folded text so that unaccented typing and ASR slips still meet the corpus.
"""

from __future__ import annotations

import re

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from service.textnorm import fold

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


class FuzzyScorer:
    """Best rapidfuzz match between the query and any phrase of each procedure."""

    def __init__(self, phrases: list[str], owners: np.ndarray, n_procedures: int) -> None:
        # Accented phrases and their tone-less twins fold to one string: score each string once.
        folded = [fold(p) for p in phrases]
        index: dict[str, int] = {}
        self._of_pair = np.array([index.setdefault(f, len(index)) for f in folded], dtype=np.int64)
        self._phrases = list(index)
        self._owners = owners
        self._n = n_procedures
        # Very short phrases ("khai tu") match inside too many questions: weigh by length.
        lengths = np.array([len(p.split()) for p in self._phrases], dtype=np.float32)
        self._length_weight = np.minimum(1.0, 0.55 + 0.15 * lengths)

    def scores(self, folded_query: str) -> np.ndarray:
        query = strip_question_words(folded_query)
        # token_set_ratio rewards a phrase contained in the question; plain ratio breaks its
        # many ties in favour of phrases of the question's own length.
        contained = process.cdist([query], self._phrases, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
        whole = process.cdist([query], self._phrases, scorer=fuzz.ratio, dtype=np.float32)[0]
        raw = (contained + whole) / 200.0 * self._length_weight
        out = np.zeros(self._n, dtype=np.float32)
        np.maximum.at(out, self._owners, raw[self._of_pair])
        return out


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
