"""The faster scoring paths compute exactly what the plain library calls computed."""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process

from service.corpus import load_corpus
from service.matching.lexical import FuzzyScorer, strip_question_words, token_set_scores
from service.matching.matcher import procedure_phrases
from service.matching.owners import PhraseOwners
from service.matching.textnorm import fold, normalize
from tests.conftest import BUILTIN_CORPUS


def test_token_set_scores_equal_rapidfuzz_token_set_ratio():
    corpus = load_corpus(BUILTIN_CORPUS)
    phrases = list(dict.fromkeys(fold(p) for proc in corpus.procedures for p in procedure_phrases(proc)))
    scorer = FuzzyScorer(phrases, np.arange(len(phrases)), len(phrases))
    # Questions: every 40th phrase reworded a little, plus words the corpus has never seen.
    questions = [f"cho em hoi {p} o dau" for p in phrases[::40]]
    questions += ["", "karaoke", "giay phep lai xe hang a1", "xa xa xa", "dang ky ket hon voi nguoi nuoc ngoai"]
    for question in questions:
        query = strip_question_words(normalize(question).folded)
        reference = process.cdist([query], scorer._phrases, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
        for workers in (1, 2):  # the shared-word pass split over two threads computes the same
            ours = token_set_scores(query, scorer._phrases, scorer._sorted_sets, scorer._by_word, workers)
            assert np.allclose(ours, reference, atol=1e-3), (question, workers)


def test_best_phrase_per_procedure_equals_maximum_at():
    rng = np.random.default_rng(3)
    owners = rng.integers(0, 50, size=400)
    owners[owners == 7] = 8  # procedure 7 has no phrase at all
    scores = rng.random(400).astype(np.float32) * 2 - 1
    expected = np.full(50, -1.0, dtype=np.float32)
    np.maximum.at(expected, owners, scores)
    assert np.array_equal(PhraseOwners(owners, 50).best(scores, empty=-1.0), expected)
    assert PhraseOwners(owners, 50).best(scores, empty=-1.0)[7] == -1.0
    assert np.array_equal(PhraseOwners(np.zeros(0, dtype=np.int64), 3).best(np.zeros(0), empty=0.0), np.zeros(3))
