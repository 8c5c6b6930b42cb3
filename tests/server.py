"""`tthc-voice serve` as a real uvicorn process for tests that go over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.speech import free_port


@contextmanager
def live_server(env_extra: dict[str, str], log_dir: Path, timeout: float = 240) -> Iterator[str]:
    """Start the service with extra TTHC_* settings; yield its base URL once /readyz says ready."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    env = dict(os.environ, TTHC_DATA_DIR=str(log_dir), **env_extra)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not become ready")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
