import pytest
from pydantic import ValidationError

from service.config import Settings


def test_thresholds_must_be_ordered():
    with pytest.raises(ValidationError, match="CLARIFY_MIN"):
        Settings(answer_min_confidence=0.2, clarify_min_confidence=0.5)


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TTHC_CORPUS_PATH", str(tmp_path / "c.jsonl"))
    monkeypatch.setenv("TTHC_USE_EMBEDDINGS", "false")
    monkeypatch.setenv("TTHC_LANGUAGES", '["vi","hmn"]')
    s = Settings()
    assert s.corpus_path == tmp_path / "c.jsonl"
    assert s.use_embeddings is False
    assert s.languages == ["vi", "hmn"]
