"""End to end: `tthc-voice serve` as a real uvicorn process, queried over loopback HTTP."""

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.speech import free_port

pytestmark = pytest.mark.slow


def test_serve_subprocess_answers_over_http(builtin_settings):
    port = free_port()
    env = dict(
        os.environ,
        TTHC_CORPUS_PATH=str(builtin_settings.corpus_path),
        TTHC_MODELS_DIR=str(builtin_settings.models_dir),
        TTHC_DATA_DIR=str(builtin_settings.data_dir),  # shares the embedding cache of this test session
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        ready = False
        with httpx.Client(base_url=base, timeout=10) as client:
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    client.get("/healthz")
                    if client.get("/readyz").status_code == 200:
                        ready = True
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            assert ready, "service did not become ready"
            res = client.post("/v1/search", json={"text": "bố em mất hôm qua cần làm giấy báo tử ở đâu"})
            assert res.status_code == 200
            assert res.json()["matches"][0]["code"] == "1.000656"
            assert client.post("/v1/search", json={"text": ""}).status_code == 422
            # the bad request did not hurt the worker
            assert client.get("/v1/procedures/1.000656").status_code == 200
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Uvicorn running" in out or "Application startup complete" in out
