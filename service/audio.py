"""Decode any common upload into mono 16-bit PCM at the rate a recogniser wants.

pydub drives ffmpeg, so WAV, MP3, OGG/Opus, WebM, FLAC, M4A/AAC and AMR all work; raw
16-bit PCM needs its rate declared. Every failure maps to an `AudioError` with the HTTP
status a client should see (400, 413, 415), never a 500.
"""

from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass

import numpy as np
from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

log = logging.getLogger(__name__)

# Content type -> ffmpeg input format ("" lets ffmpeg probe the container itself).
_FORMATS: dict[str, str] = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "application/ogg": "ogg",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mp4": "",
    "audio/m4a": "",
    "audio/x-m4a": "",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/3gpp": "",
    "application/octet-stream": "",
}
_RAW_TYPES = frozenset({"audio/l16", "audio/pcm", "audio/x-raw", "audio/raw"})
SUPPORTED_RATES = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})
SILENCE_DBFS = -60.0


class AudioError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedAudioError(AudioError):
    status_code = 415


class AudioTooLargeError(AudioError):
    status_code = 413


@dataclass(frozen=True)
class Pcm:
    """Mono signed 16-bit samples."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2").tobytes()

    def as_float(self) -> np.ndarray:
        floats: np.ndarray = self.samples.astype(np.float32) / 32768.0
        return floats


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """'audio/L16; rate=8000' -> ('audio/l16', {'rate': '8000'})."""
    if not value:
        return "", {}
    kind, *params = value.split(";")
    parsed = {}
    for p in params:
        if "=" in p:
            k, v = p.split("=", 1)
            parsed[k.strip().lower()] = v.strip().strip('"')
    return kind.strip().lower(), parsed


def _segment(data: bytes, content_type: str | None, raw_rate: int | None) -> AudioSegment:
    kind, params = parse_content_type(content_type)
    if kind in _RAW_TYPES or raw_rate:
        rate = raw_rate or int(params.get("rate", "0") or 0)
        if rate not in SUPPORTED_RATES:
            raise AudioError("raw PCM needs its sample rate: send 'audio/L16; rate=16000' or the sample_rate field")
        if len(data) % 2:
            raise AudioError("raw PCM must be 16-bit: odd number of bytes")
        return AudioSegment(data=data, sample_width=2, frame_rate=rate, channels=int(params.get("channels", "1")))
    if kind and kind not in _FORMATS:
        raise UnsupportedAudioError(
            f"unsupported audio type {kind!r}; send WAV, MP3, OGG/Opus, WebM, FLAC, M4A/AAC, AMR or audio/L16"
        )
    fmt = _FORMATS.get(kind, "") or None
    try:
        return AudioSegment.from_file(io.BytesIO(data), format=fmt)
    except (CouldntDecodeError, IndexError, ValueError, OSError) as exc:
        log.info("could not decode upload (%s, %d bytes): %s", kind or "no type", len(data), str(exc)[-200:])
        raise AudioError("the audio could not be decoded: corrupt, truncated or not audio") from exc


def decode_audio(
    data: bytes,
    content_type: str | None,
    *,
    target_rate: int = 16000,
    raw_rate: int | None = None,
    max_bytes: int = 10 * 2**20,
    max_seconds: float = 30.0,
    min_seconds: float = 0.3,
) -> Pcm:
    if not data:
        raise AudioError("the audio is empty")
    if len(data) > max_bytes:
        raise AudioTooLargeError(f"the audio is larger than {max_bytes} bytes")
    segment = _segment(data, content_type, raw_rate)
    if segment.frame_count() == 0:
        raise AudioError("the audio has no samples: corrupt or truncated")
    if segment.duration_seconds < min_seconds:
        raise AudioError(f"the audio is only {segment.duration_seconds:.2f} s long: truncated or cut off")
    if segment.duration_seconds > max_seconds:
        raise AudioTooLargeError(f"the audio is {segment.duration_seconds:.1f} s long; the limit is {max_seconds:g} s")
    try:
        segment = segment.set_channels(1).set_sample_width(2).set_frame_rate(target_rate)
    except Exception as exc:  # audioop.error and friends: the data does not fit its own header
        log.info("audio conversion failed: %s", exc)
        raise AudioError("the audio could not be decoded: its samples do not match its header") from exc
    if segment.dBFS == -math.inf or segment.dBFS < SILENCE_DBFS:
        raise AudioError("the audio is silent: check the microphone")
    samples = np.frombuffer(segment.raw_data, dtype="<i2").copy()
    return Pcm(samples=samples, sample_rate=target_rate)


_RATE_IN_CONF = re.compile(r"--sample-frequency=(\d+)")


def rate_from_mfcc_conf(text: str, default: int = 16000) -> int:
    """Vosk models state their rate in conf/mfcc.conf; telephone audio is resampled up to it."""
    found = _RATE_IN_CONF.search(text)
    return int(found.group(1)) if found else default
