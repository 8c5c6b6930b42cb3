"""The faster scoring paths compute exactly what the plain library calls computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from service.corpus import load_corpus
from service.matching.lexical import FuzzyScorer, strip_question_words, token_set_scores
from service.matching.matcher import Matcher, Method, procedure_phrases
from service.matching.owners import PhraseOwners
from service.matching.textnorm import fold, normalize
from tests.conftest import BUILTIN_CORPUS, SHARED


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


def _builtin_questions(corpus_phrases: list[str]) -> list[str]:
    """Reworded corpus phrases, words the corpus does not know, and the real portal questions."""
    questions = [f"cho em hoi {p} o dau" for p in corpus_phrases[::25]]
    questions += ["", "karaoke", "giay phep lai xe hang a1", "xa xa xa", "lam giay khai sinh cho con"]
    portal = SHARED / "eval" / "questions_unlabelled_portal.jsonl"
    if portal.is_file():
        questions += [json.loads(line)["question"] for line in portal.read_text(encoding="utf-8").splitlines()[:150]]
    return questions


def test_fuzzy_bounds_hold_and_refine_to_the_exact_scores():
    corpus = load_corpus(BUILTIN_CORPUS)
    per = [procedure_phrases(proc) for proc in corpus.procedures]
    phrases = [p for own in per for p in own]
    owners = np.asarray([i for i, own in enumerate(per) for _ in own])
    scorer = FuzzyScorer(phrases, owners, len(per), workers=2)
    open_total = 0
    for question in _builtin_questions(phrases):
        folded = normalize(question).folded
        exact = scorer.scores(folded)
        bounds = scorer.bounds(folded)
        assert np.all(bounds.lower <= exact) and np.all(exact <= bounds.upper), question
        assert np.array_equal(scorer.refine(bounds, np.arange(len(per))), exact), question
        some = np.arange(0, len(per), 3)
        partly = scorer.refine(bounds, some)
        assert np.array_equal(partly[some], exact[some]), question
        rest = np.setdiff1d(np.arange(len(per)), some)
        # elsewhere between the bounds (a phrase two procedures share is exact for both)
        assert np.all(bounds.lower[rest] <= partly[rest]) and np.all(partly[rest] <= exact[rest]), question
        open_total += int((bounds.upper > bounds.lower).sum())
    assert open_total > 0  # the bounds are really bounds for phrases sharing words, not exact everywhere


def test_search_scores_only_the_best_exactly_and_ranks_them_as_the_full_fusion(tmp_path: Path):
    matcher = Matcher(load_corpus(BUILTIN_CORPUS), None, tmp_path)
    per = [procedure_phrases(proc) for proc in matcher.procedures]
    for question in _builtin_questions([p for own in per for p in own]):
        query = matcher.prepare(question)
        full = matcher.method_scores(query, Method.HYBRID)
        best = matcher.method_scores(query, Method.HYBRID, best=5)
        top_full, top_best = np.argsort(-full, kind="stable")[:5], np.argsort(-best, kind="stable")[:5]
        assert np.array_equal(top_full, top_best), question
        assert np.array_equal(full[top_full], best[top_best]), question
        assert np.all(best <= full + 1e-6), question  # elsewhere a lower bound
