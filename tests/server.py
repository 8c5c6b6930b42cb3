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


def wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 240) -> None:
    """Until /readyz answers 200; fails with the server's last output if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("server did not become ready")
        time.sleep(0.3)


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=dict(os.environ, **env),
            stdout=log,
            stderr=log,
        )


@contextmanager
def live_server(env_extra: dict[str, str], log_dir: Path, timeout: float = 240) -> Iterator[str]:
    """Start the service with extra TTHC_* settings; yield its base URL once /readyz says ready."""
    with live_process(env_extra, log_dir, timeout) as (base, _proc):
        yield base


@contextmanager
def live_process(
    env_extra: dict[str, str], log_dir: Path, timeout: float = 240
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As `live_server`, also yielding the process (its memory, its log)."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    proc = start_server({"TTHC_DATA_DIR": str(log_dir), **env_extra}, port, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log_path, timeout)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
