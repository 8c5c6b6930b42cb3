"""Corpus edits reach the running service without a restart, and never break it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.corpus import edit_procedure, load_corpus
from service.matching.embedding import cached_passage_embeddings

KEY = "reload-key"
ODD = "giấy chào đời cho em bé"  # a way of saying it that no alias covers yet


def test_edit_adds_an_alias_and_refuses_bad_edits(small_corpus_path: Path):
    proc = edit_procedure(small_corpus_path, "1.001193", add_alias=ODD)
    assert ODD in proc.aliases and ODD in load_corpus(small_corpus_path).by_code()["1.001193"].aliases
    before = hashlib.sha256(small_corpus_path.read_bytes()).hexdigest()
    with pytest.raises(ValueError):
        edit_procedure(small_corpus_path, "1.001193", add_alias=ODD)  # aliases must not repeat
    with pytest.raises(ValueError):
        edit_procedure(small_corpus_path, "1.001193", answer="Một. Hai. Ba. Bốn. Năm. Sáu. Bảy. Tám.")
    with pytest.raises(KeyError):
        edit_procedure(small_corpus_path, "9.999999", add_alias="x")
    assert hashlib.sha256(small_corpus_path.read_bytes()).hexdigest() == before  # untouched


def _search(client: TestClient, text: str) -> dict:
    res = client.post("/v1/search", json={"text": text})
    assert res.status_code == 200, res.text
    return res.json()


def test_running_service_picks_up_an_alias_while_answering(small_corpus_path: Path, tmp_path: Path):
    settings = Settings(
        corpus_path=small_corpus_path,
        data_dir=tmp_path,
        prompts_dir=tmp_path / "prompts",
        use_embeddings=False,
        asr_engine="none",
        reload_check_seconds=0.2,
        rate_limit_per_minute=0,
        admin_api_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        assert _search(client, ODD)["decision"] != "answer"
        failures: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:  # in-flight traffic during the reload
            while not stop.is_set():
                res = client.post("/v1/search", json={"text": "đăng ký kết hôn"})
                if res.status_code != 200 or res.json()["matches"][0]["code"] != "1.000894":
                    failures.append(res.text)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        command = [sys.executable, "-m", "service.cli", "corpus", "alias", "1.001193", ODD]
        done = subprocess.run([*command, "--corpus", str(small_corpus_path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _search(client, ODD)["decision"] != "answer":
            time.sleep(0.1)
        stop.set()
        asker.join()
        found = _search(client, ODD)
        assert found["decision"] == "answer" and found["matches"][0]["code"] == "1.001193"
        assert failures == []

        # a broken file: the service keeps answering from the last good corpus
        small_corpus_path.write_text('{"code": "broken"\n', encoding="utf-8")
        res = client.post("/v1/admin/reload", headers={"X-API-Key": KEY})
        assert res.status_code == 422 and "still serving the previous one" in res.json()["error"]
        time.sleep(0.5)  # the watcher sees it too, and logs instead of swapping
        assert _search(client, ODD)["matches"][0]["code"] == "1.001193"


class _CountingEmbedder:
    fingerprint = "fake"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_embedding_cache_encodes_only_new_phrases_after_an_edit(tmp_path: Path):
    embedder = _CountingEmbedder()
    first = cached_passage_embeddings(embedder, ["khai sinh", "kết hôn"], tmp_path)  # type: ignore[arg-type]
    assert embedder.encoded == ["khai sinh", "kết hôn"]
    second = cached_passage_embeddings(embedder, ["khai sinh", "kết hôn", ODD], tmp_path)  # type: ignore[arg-type]
    assert embedder.encoded == ["khai sinh", "kết hôn", ODD]  # only the new phrase was encoded
    assert np.array_equal(second[:2], first) and second[2][0] == len(ODD)
