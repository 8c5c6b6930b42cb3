"""Real test speech: espeak-ng renders text, ffmpeg converts it to each container."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import wave
from pathlib import Path

import numpy as np

from tests.ci import missing


def espeak(text: str, path: Path, voice: str = "vi", speed: int = 130) -> Path:
    if shutil.which("espeak-ng") is None:
        missing("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def convert(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(src), *args, str(dst)], check=True)
    return dst


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """Mono 16-bit WAV from int16 samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
