"""End to end: `tthc-voice serve` as a real uvicorn process, queried over loopback HTTP."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.speech import free_port

pytestmark = pytest.mark.slow


def test_serve_subprocess_answers_over_http(builtin_settings, tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        TTHC_CORPUS_PATH=str(builtin_settings.corpus_path),
        TTHC_MODELS_DIR=str(builtin_settings.models_dir),
        TTHC_DATA_DIR=str(builtin_settings.data_dir),  # shares the embedding cache of this test session
    )
    log_path = tmp_path / "serve.log"  # a file, not a pipe: nobody reads a pipe until the end
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
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
            res = client.post(
                "/v1/search",
                json={"text": "bố em mất hôm qua cần làm giấy báo tử ở đâu"},
                headers={"X-Request-ID": "e2e-42"},
            )
            assert res.status_code == 200 and res.headers["x-request-id"] == "e2e-42"
            assert len(client.get("/healthz").headers["x-request-id"]) == 32  # made up when not given
            assert res.json()["matches"][0]["code"] == "1.000656"
            assert client.post("/v1/search", json={"text": ""}).status_code == 422
            # the bad request did not hurt the worker
            assert client.get("/v1/procedures/1.000656").status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = log_path.read_text(encoding="utf-8", errors="replace")
    assert "Uvicorn running" in out or "Application startup complete" in out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "msg", "request_id"} <= set(e) for e in lines)
    access = [e for e in lines if e["logger"] == "tthc.access" and e["request_id"] == "e2e-42"]
    assert access and access[0]["msg"].startswith("POST /v1/search 200")
