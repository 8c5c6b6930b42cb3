"""Recordings in the format each channel plays: WAV 16 kHz, Opus, MP3, μ-law and slin 8 kHz.

Converted once per (recording content, format) into a cache folder shared by every worker.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from enum import StrEnum
from pathlib import Path

from pydub import AudioSegment


class AudioFormat(StrEnum):
    WAV16K = "wav16k"
    OPUS = "opus"
    MP3 = "mp3"
    ULAW8K = "ulaw8k"
    SLIN8K = "slin8k"


# format -> (ffmpeg container, extra export parameters, sample rate, media type, file suffix)
_FORMATS: dict[AudioFormat, tuple[str, list[str], int, str, str]] = {
    AudioFormat.WAV16K: ("wav", [], 16000, "audio/wav", "wav"),
    AudioFormat.OPUS: ("ogg", ["-c:a", "libopus", "-b:a", "24k", "-application", "voip"], 16000, "audio/ogg", "ogg"),
    AudioFormat.MP3: ("mp3", ["-b:a", "32k"], 16000, "audio/mpeg", "mp3"),
    AudioFormat.ULAW8K: ("wav", ["-c:a", "pcm_mulaw"], 8000, "audio/wav", "wav"),
    AudioFormat.SLIN8K: ("s16le", [], 8000, "audio/L16;rate=8000", "sln"),
}


def media_type(fmt: AudioFormat) -> str:
    return _FORMATS[fmt][3]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def transcode(source: Path, fmt: AudioFormat, cache_dir: Path) -> Path:
    """Convert once per (recording content, format); later requests read the cached file."""
    container, params, rate, _media, suffix = _FORMATS[fmt]
    key = f"{file_sha256(source)[:32]}-{fmt.value}.{suffix}"
    target = cache_dir / key
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # One transcode per key in this process; across processes sharing the folder the first
    # file published wins (link, not rename, never replaces it). Opus output differs run to
    # run (random Ogg serial), and the ETag promises the same bytes for the same name.
    with _transcode_lock(key):
        if target.is_file():
            return target
        fd, scratch = tempfile.mkstemp(prefix=f".{key}.", dir=cache_dir)
        os.close(fd)
        tmp = Path(scratch)
        try:
            segment = AudioSegment.from_file(source).set_channels(1).set_frame_rate(rate).set_sample_width(2)
            segment.export(tmp, format=container, parameters=params)
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links: rename, last writer wins
                tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


_transcode_locks: dict[str, threading.Lock] = {}
_transcode_locks_guard = threading.Lock()


def _transcode_lock(key: str) -> threading.Lock:
    with _transcode_locks_guard:
        return _transcode_locks.setdefault(key, threading.Lock())
