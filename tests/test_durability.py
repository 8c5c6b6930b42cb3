"""A worker killed outright loses no answered question, and the service comes back."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.speech import free_port

pytestmark = pytest.mark.slow


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=dict(os.environ, **env),
            stdout=out,
            stderr=out,
        )


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("service did not become ready")


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
    proc = _start(env, port, tmp_path / "serve.log")
    answered = 0
    try:
        _wait_ready(base, proc)
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

    proc = _start(env, port, tmp_path / "serve.log")  # and it comes back on the same files
    try:
        _wait_ready(base, proc)
        assert httpx.post(f"{base}/v1/search", json={"text": "đăng ký kết hôn"}).status_code == 200
        with sqlite3.connect(tmp_path / "queries.db") as db:
            assert db.execute("SELECT count(*) FROM queries").fetchone()[0] == answered + 1
    finally:
        proc.terminate()
        proc.wait(30)
