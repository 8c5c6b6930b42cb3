"""A worker killed outright loses no answered question, and the service comes back."""

from __future__ import annotations

import os
import signal
import sqlite3

import httpx
import pytest

from tests.server import start_server, wait_ready
from tests.speech import free_port

pytestmark = pytest.mark.slow


def test_sigkill_mid_traffic_loses_no_answered_question(small_corpus_path, tmp_path):
    env = {
        "TTHC_CORPUS_PATH": str(small_corpus_path),
        "TTHC_DATA_DIR": str(tmp_path),
        "TTHC_PROMPTS_DIR": str(tmp_path / "prompts"),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "none",
        "TTHC_RATE_LIMIT_PER_MINUTE": "0",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    proc = start_server(env, port, log_path)
    answered = 0
    try:
        wait_ready(base, proc, log_path)
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(60):
                if client.post("/v1/search", json={"text": f"làm giấy khai sinh lần {i}"}).status_code == 200:
                    answered += 1
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no flush: the power goes out
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert answered == 60
    with sqlite3.connect(tmp_path / "queries.db") as db:
        assert db.execute("SELECT count(*) FROM queries").fetchone()[0] == answered

    proc = start_server(env, port, log_path)  # and it comes back on the same files
    try:
        wait_ready(base, proc, log_path)
        assert httpx.post(f"{base}/v1/search", json={"text": "đăng ký kết hôn"}).status_code == 200
        with sqlite3.connect(tmp_path / "queries.db") as db:
            assert db.execute("SELECT count(*) FROM queries").fetchone()[0] == answered + 1
    finally:
        proc.terminate()
        proc.wait(30)
