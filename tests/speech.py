"""Real test speech: espeak-ng renders text, ffmpeg converts it to each container."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def espeak(text: str, path: Path, voice: str = "vi", speed: int = 130) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def convert(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(src), *args, str(dst)], check=True)
    return dst
