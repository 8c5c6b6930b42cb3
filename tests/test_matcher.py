from pathlib import Path

import numpy as np
import pytest

from service.corpus import load_corpus
from service.matching.lexical import Bm25Scorer, FuzzyScorer, strip_question_words
from service.matching.lexicon import Lexicon, LexiconEntry
from service.matching.matcher import Decision, FusionParams, Matcher, Method


@pytest.fixture
def lexical_matcher(small_corpus_path: Path, tmp_path: Path) -> Matcher:
    return Matcher(load_corpus(small_corpus_path), embedder=None, cache_dir=tmp_path)


def test_question_words_are_stripped_but_topic_words_kept():
    assert strip_question_words("lam giay khai sinh can giay to gi o dau") == "lam giay khai sinh"
    assert strip_question_words("nguoi co cong") == "nguoi co cong"
    assert strip_question_words("o dau") == "o dau"  # nothing left -> keep the text


def test_fuzzy_scorer_tolerates_missing_tones_and_typos():
    scorer = FuzzyScorer(["làm giấy khai sinh", "nhập hộ khẩu"], np.array([0, 1]), 2)
    assert np.argmax(scorer.scores("lam giay khai sinh cho con")) == 0
    assert np.argmax(scorer.scores("nhap ho khao")) == 1  # ASR-like slip


def test_bm25_ranks_by_shared_terms():
    scorer = Bm25Scorer(["đăng ký khai sinh", "đăng ký kết hôn"])
    s = scorer.scores("ket hon")
    assert s[1] > s[0] == 0


def test_lexical_matcher_answers_clear_questions(lexical_matcher: Matcher):
    result = lexical_matcher.search("cho em hỏi làm giấy khai sinh cho con cần gì ạ", answer_min=0.45, clarify_min=0.3)
    assert result.matches[0].procedure.code == "1.001193"
    assert result.decision is Decision.ANSWER
    assert lexical_matcher.search("nhap ho khau can giay to gi").matches[0].procedure.code == "1.004222"


def test_unrelated_question_is_out_of_scope(lexical_matcher: Matcher):
    result = lexical_matcher.search("hôm nay giá vàng bao nhiêu", answer_min=0.45, clarify_min=0.3)
    assert result.decision is Decision.OUT_OF_SCOPE


def test_empty_after_normalisation_is_out_of_scope(lexical_matcher: Matcher):
    result = lexical_matcher.search("???")
    assert result.decision is Decision.OUT_OF_SCOPE and result.matches == []


def test_confidence_grows_with_score_and_margin(lexical_matcher: Matcher):
    c = lexical_matcher.confidence
    assert c(0.8, 0.3) > c(0.6, 0.3) > c(0.4, 0.3)
    assert c(0.7, 0.2) > c(0.7, 0.68)
    assert 0.0 < c(0.0, 0.0) < c(1.0, 0.0) < 1.0


def test_decision_bands_follow_thresholds(small_corpus_path: Path, tmp_path: Path):
    # A flat confidence curve puts every query into the band chosen by the thresholds.
    flat = FusionParams(top_weight=0.0, margin_weight=0.0, coverage_weight=0.0, bias=0.0)  # always 0.5
    m = Matcher(load_corpus(small_corpus_path), None, tmp_path, params=flat)
    q = "đăng ký kết hôn"
    assert m.search(q, answer_min=0.4, clarify_min=0.2).decision is Decision.ANSWER
    assert m.search(q, answer_min=0.6, clarify_min=0.4).decision is Decision.CLARIFY
    assert m.search(q, answer_min=0.9, clarify_min=0.6).decision is Decision.OUT_OF_SCOPE


def test_embedding_method_needs_embedder(lexical_matcher: Matcher):
    query = lexical_matcher.prepare("khai sinh")
    with pytest.raises(RuntimeError):
        lexical_matcher.method_scores(query, Method.EMBEDDING)
    # hybrid without embeddings falls back to fuzzy scores
    assert np.allclose(
        lexical_matcher.method_scores(query, Method.HYBRID),
        lexical_matcher.method_scores(query, Method.FUZZY),
    )


def test_lexicon_turns_everyday_words_into_the_official_term(small_corpus_path: Path, tmp_path: Path):
    lexicon = Lexicon([LexiconEntry(phrase="lấy vợ", official="kết hôn", topic="hộ tịch")])
    plain = Matcher(load_corpus(small_corpus_path), None, tmp_path)
    with_lexicon = Matcher(load_corpus(small_corpus_path), None, tmp_path, lexicon=lexicon)
    question = "con trai tôi sắp lấy vợ thì làm giấy gì"
    assert plain.search(question).matches[0].procedure.code != "1.000894"
    assert with_lexicon.search(question).matches[0].procedure.code == "1.000894"
    assert with_lexicon.prepare("sap lay vo").concepts[0].official == "kết hôn"  # folded form matches too


def test_vocabulary_coverage_flags_unknown_topics(lexical_matcher: Matcher):
    from service.matching.textnorm import normalize

    known = lexical_matcher.vocabulary_coverage(normalize("làm giấy khai sinh cho con"))
    unknown = lexical_matcher.vocabulary_coverage(normalize("xin visa đi nhật cần giấy tờ gì"))
    assert known > 0.5 > unknown
    assert lexical_matcher.vocabulary_coverage(normalize("khai")) == 1.0  # one word: no pairs to judge
    # the same question with less known wording gets less confidence
    assert lexical_matcher.confidence(0.6, 0.4, coverage=1.0) > lexical_matcher.confidence(0.6, 0.4, coverage=0.0)
