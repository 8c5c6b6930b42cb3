"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil


def espeak_pcm(text: str, rate: int, tmp: Path, speed: int = 110) -> tuple[bytes, bytes]:
    """espeak-ng Vietnamese: (its WAV file, 16-bit mono PCM at `rate`)."""
    wav = tmp / f"q-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-s", str(speed), "-w", str(wav), text], check=True)
    pcm = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(wav), "-f", "s16le", "-ar", str(rate), "-ac", "1", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return wav.read_bytes(), bytes(pcm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`tthc-voice serve` in a subprocess, ready when /readyz says so; tracks peak RSS."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
            env=dict(os.environ, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.peak_rss = 0
        self._stop = threading.Event()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        proc = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(30)
