"""The colloquial concept lexicon: data validated like the corpus, used to expand questions."""

import json
from pathlib import Path

import pytest

from service.corpus import load_corpus
from service.matching.lexicon import TOPICS, InvalidLexiconError, Lexicon, LexiconEntry, load_lexicon
from service.matching.textnorm import clean, fold
from tests.conftest import BUILTIN_CORPUS, PROJECT_ROOT

LEXICON = PROJECT_ROOT / "corpus" / "lexicon.jsonl"


def test_shipped_lexicon_is_valid_and_broad():
    lexicon = load_lexicon(LEXICON)
    assert len(lexicon) >= 300
    topics = {e.topic for e in lexicon.entries}
    assert {
        "hộ tịch",
        "cư trú",
        "căn cước",
        "đất đai",
        "bảo trợ xã hội",
        "người có công",
        "bảo hiểm",
        "giáo dục",
    } <= topics
    assert topics <= TOPICS


def test_every_official_term_is_one_the_corpus_uses():
    corpus = load_corpus(BUILTIN_CORPUS)
    texts = " | ".join(
        fold(clean(t)) for p in corpus.procedures for t in [p.name, *p.aliases, *(d.name for d in p.documents)]
    )
    missing = {e.official for e in load_lexicon(LEXICON).entries if fold(e.official) not in texts}
    assert not missing


def test_ambiguous_single_words_are_not_in_the_lexicon_alone():
    """'mất' is died or lost: it only appears inside a phrase that fixes the meaning."""
    phrases = {e.phrase for e in load_lexicon(LEXICON).entries}
    assert "mất" not in phrases
    assert any(p.startswith("bố mất") or p == "bố mất" for p in phrases)


def _lex(*rows: tuple[str, str]) -> Lexicon:
    return Lexicon([LexiconEntry(phrase=p, official=o, topic="hộ tịch") for p, o in rows])


def test_expansion_appends_the_official_term_once():
    lex = _lex(("lấy vợ", "kết hôn"), ("cưới", "kết hôn"))
    out = lex.expand("em lấy vợ rồi cưới xong")
    assert out.text == "em lấy vợ rồi cưới xong kết hôn"
    assert lex.expand("đăng ký kết hôn").text == "đăng ký kết hôn"  # already said


def test_unaccented_questions_match_only_multi_syllable_phrases():
    lex = _lex(("đẻ", "khai sinh"), ("mới đẻ", "khai sinh"), ("sổ đỏ", "giấy chứng nhận quyền sử dụng đất"))
    assert lex.expand("con moi de").text.endswith("khai sinh")
    assert lex.expand("de lam gi").text == "de lam gi"  # "de" may be để, đề, đế ...
    assert lex.expand("lam so do").text == "lam so do giấy chứng nhận quyền sử dụng đất"


def test_whole_words_only():
    lex = _lex(("cưới", "kết hôn"))
    assert lex.expand("cười").text == "cười"
    assert lex.expand("đám cưới").text == "đám cưới kết hôn"


def test_bad_lines_are_reported_with_their_number(tmp_path: Path):
    path = tmp_path / "lexicon.jsonl"
    good = {"phrase": "lấy vợ", "official": "kết hôn", "topic": "hộ tịch"}
    path.write_text(
        json.dumps(good, ensure_ascii=False) + "\n" + json.dumps({**good, "topic": "thời tiết"}, ensure_ascii=False),
        encoding="utf-8",
    )
    with pytest.raises(InvalidLexiconError, match="lexicon.jsonl:2"):
        load_lexicon(path)
    path.write_text(json.dumps({**good, "phrase": "Lấy Vợ!"}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InvalidLexiconError, match=":1"):
        load_lexicon(path)


def test_a_missing_lexicon_is_empty(tmp_path: Path):
    assert len(load_lexicon(tmp_path / "none.jsonl")) == 0
    assert len(load_lexicon(None)) == 0
