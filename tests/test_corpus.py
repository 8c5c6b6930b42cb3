import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.corpus import InvalidCorpusError, load_corpus, validate_corpus
from tests.conftest import BUILTIN_CORPUS, SMALL_CORPUS, small_record, write_jsonl


def test_builtin_corpus_is_valid_and_large_enough():
    corpus = load_corpus(BUILTIN_CORPUS)
    procedures = corpus.procedures
    assert len(procedures) >= 200
    fields = {p.field for p in procedures}
    for needed in ("Hộ tịch", "Đăng ký, quản lý cư trú", "Chứng thực", "Bảo trợ xã hội", "Người có công", "Đất đai"):
        assert needed in fields
    assert all(len(p.aliases) >= 3 for p in procedures)
    assert sum(p.essential for p in procedures) >= 15
    assert len({p.prompt_id for p in procedures}) == len(procedures)


def test_builtin_corpus_has_colloquial_aliases_for_key_procedures():
    by_code = load_corpus(BUILTIN_CORPUS).by_code()
    assert "làm giấy khai sinh cho con" in by_code["1.001193"].aliases
    assert "nhập hộ khẩu" in by_code["1.004222"].aliases
    assert "nhap ho khau" in by_code["1.004222"].aliases


def test_every_procedure_has_four_colloquial_aliases_in_citizens_words():
    from service.offline.importer import own_aliases

    banned = ("cho em hỏi", "cần giấy tờ gì", "ở đâu", "bao nhiêu tiền")
    for p in load_corpus(BUILTIN_CORPUS).procedures:
        own = own_aliases(p.name, p.aliases)
        assert len(own) >= 4, p.code
        for a in own:
            assert 1 <= len(a.split()) <= 12, (p.code, a)
            assert not any(b in a.lower() for b in banned), (p.code, a)


def test_every_bad_line_is_reported_with_line_and_field(tmp_path: Path):
    good = SMALL_CORPUS[0]
    bad_code = dict(SMALL_CORPUS[1], code="12345")
    few_aliases = dict(SMALL_CORPUS[2], aliases=["chỉ một"])
    duplicate = dict(SMALL_CORPUS[3], code=good["code"], prompt_id="p-other")
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good, ensure_ascii=False),
                json.dumps(bad_code, ensure_ascii=False),
                "{not json",
                json.dumps(few_aliases, ensure_ascii=False),
                json.dumps(duplicate, ensure_ascii=False),
            ]
        ),
        encoding="utf-8",
    )
    errors = validate_corpus(path)
    found = {(e.line, e.field) for e in errors}
    assert (2, "code") in found
    assert (3, "<json>") in found
    assert (4, "aliases") in found
    assert (5, "code") in found
    assert len(errors) == 4
    with pytest.raises(InvalidCorpusError) as info:
        load_corpus(path)
    assert "line 2: code" in str(info.value)


def test_missing_field_and_unknown_field_are_errors(tmp_path: Path):
    rec = small_record("1.000001", "Thủ tục thử", ["a b", "c d", "e f"])
    del rec["agency"]
    rec["colour"] = "red"
    errors = validate_corpus(write_jsonl(tmp_path / "c.jsonl", [rec]))
    assert {e.field for e in errors} == {"agency", "colour"}


def test_cli_validate_exit_codes(tmp_path: Path, small_corpus_path: Path):
    ok = subprocess.run(
        [sys.executable, "-m", "service.cli", "corpus", "validate", str(small_corpus_path)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = write_jsonl(tmp_path / "bad.jsonl", [dict(SMALL_CORPUS[0], code="x")])
    res = subprocess.run(
        [sys.executable, "-m", "service.cli", "corpus", "validate", str(bad)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert "line 1: code" in res.stderr


def test_service_refuses_to_start_on_invalid_corpus(tmp_path: Path):
    from service.app import create_app

    bad = write_jsonl(tmp_path / "bad.jsonl", [dict(SMALL_CORPUS[0], answer_vi="")])
    with pytest.raises(InvalidCorpusError, match="line 1: answer_vi"):
        create_app(Settings(corpus_path=bad, use_embeddings=False))
    env_run = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env={"TTHC_CORPUS_PATH": str(bad), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert env_run.returncode == 2
    assert "line 1: answer_vi" in env_run.stderr


def test_every_text_of_the_shipped_corpus_has_precomposed_tone_marks() -> None:
    """Decomposed marks (NFD) print and search as other letters; the importer writes NFC only."""
    import unicodedata

    from service.offline.importer import convert_row

    lines = Settings().corpus_path.read_text(encoding="utf-8").splitlines()
    decomposed = [n for n, line in enumerate(lines, start=1) if unicodedata.normalize("NFC", line) != line]
    assert decomposed == []
    nfd = unicodedata.normalize("NFD", "Đăng ký khai sinh")
    proc = convert_row({"code": "1.001193", "name": nfd, "field": unicodedata.normalize("NFD", "Hộ tịch")})
    assert proc.name == "Đăng ký khai sinh" and proc.field == "Hộ tịch"
