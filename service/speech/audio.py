"""Decode an upload into mono 16-bit PCM at the rate a recogniser wants, safely.

Uploads come from anyone on the portal, so ffmpeg is told exactly what to do: read only the
bytes given (protocol whitelist `cache,pipe`: no http, file, subfile, tee, ...), with a
demuxer chosen from an allow-list by the file's own magic bytes (never HLS, DASH or concat,
which would make it fetch other URLs or local files), and with its output read in chunks
and cut at the duration limit, so memory is bounded by the limit and not by what a tiny
compressed file of hours of silence expands to. Raw 16-bit PCM needs its rate declared and
never reaches ffmpeg. Every failure maps to an `AudioError` with the HTTP status a client
should see (400, 413, 415), never a 500.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

import numpy as np
import soxr

log = logging.getLogger(__name__)

# Content type -> ffmpeg demuxer; None: no single container, the magic bytes decide.
_DECLARED: dict[str, str | None] = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "application/ogg": "ogg",
    "audio/webm": "matroska",
    "video/webm": "matroska",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mp4": "mov",
    "audio/m4a": "mov",
    "audio/x-m4a": "mov",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/3gpp": "mov",
    "application/octet-stream": None,
}
ALLOWED_DEMUXERS = frozenset(v for v in _DECLARED.values() if v)
_RAW_TYPES = frozenset({"audio/l16", "audio/pcm", "audio/x-raw", "audio/raw"})
# Text that asks a demuxer to open other resources: playlists, manifests, concat lists.
_LIST_SIGNATURES = (b"#EXT", b"ffconcat", b"<?xml", b"<MPD", b"<SMIL", b"<smil", b"[playlist]", b"file ")
SUPPORTED_RATES = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})
SILENCE_DBFS = -60.0
DECODE_TIMEOUT_S = 20.0
_SUPPORTED = "send WAV, MP3, OGG/Opus, WebM, FLAC, M4A/AAC, AMR or audio/L16"


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


def sniff_container(data: bytes) -> str | None:
    """The demuxer for these bytes, from their magic numbers; None if no allowed container."""
    head = data[:16]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "matroska"
    if head[4:8] == b"ftyp":
        return "mov"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF:
        if (head[1] & 0xF6) == 0xF0:  # ADTS: sync, MPEG-2/4, layer 0
            return "aac"
        if (head[1] & 0xE0) == 0xE0 and head[1] & 0x06:  # MPEG audio frame sync, layer I-III
            return "mp3"
    return None


def _is_list(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(_LIST_SIGNATURES)


def check_wav_header(data: bytes) -> None:
    """A WAV whose format chunk lies (0 channels, 7-bit PCM) is refused here, not half-decoded."""
    offset = 12
    while offset + 8 <= min(len(data), 1 << 16):
        chunk, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if chunk == b"fmt ":
            if size < 16 or offset + 24 > len(data):
                raise AudioError("the WAV header is cut short")
            fmt = data[offset + 8 : offset + 24]
            codec, channels = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little")
            rate, bits = int.from_bytes(fmt[4:8], "little"), int.from_bytes(fmt[14:16], "little")
            if not 1 <= channels <= 8:
                raise AudioError(f"the WAV header says {channels} channels")
            if not 1000 <= rate <= 384000:
                raise AudioError(f"the WAV header says {rate} samples per second")
            if codec in (1, 3, 0xFFFE) and bits not in (8, 16, 24, 32, 64):
                raise AudioError(f"the WAV header says {bits} bits per sample")
            return
        offset += 8 + size + (size & 1)
    raise AudioError("the WAV file has no format chunk: corrupt or truncated")


def choose_demuxer(data: bytes, content_type: str | None) -> str:
    """An allow-listed demuxer, or UnsupportedAudioError (playlists and unknown types: 415).

    A file that really is WAV also has its header checked here (AudioError, 400)."""
    kind, _ = parse_content_type(content_type)
    if kind and kind not in _DECLARED:
        raise UnsupportedAudioError(f"unsupported audio type {kind!r}; {_SUPPORTED}")
    if _is_list(data):
        raise UnsupportedAudioError("playlists, manifests and file lists are not accepted: upload the recording itself")
    sniffed = sniff_container(data)
    declared = _DECLARED.get(kind)
    if sniffed == "wav":
        check_wav_header(data)
    if sniffed is not None:
        return sniffed  # browsers mislabel containers (Opus in WebM sent as audio/ogg): bytes win
    if declared is not None:
        return declared  # e.g. an MP3 with junk before its first frame; the demuxer decides
    raise UnsupportedAudioError(f"the upload is not audio in a supported container; {_SUPPORTED}")


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass  # ffmpeg stopped reading: it failed, or we stopped it at the limit
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _tail(pipe: IO[bytes], keep: list[bytes]) -> None:
    """The last few KB of ffmpeg's messages, read as they come so its pipe never fills."""
    buf = b""
    for chunk in iter(lambda: pipe.read(4096), b""):
        buf = (buf + chunk)[-4096:]
    keep.append(buf)


def ffmpeg_decode(data: bytes, demuxer: str, target_rate: int, max_seconds: float, timeout_s: float) -> bytes:
    """Mono s16le at `target_rate`; AudioTooLargeError as soon as output passes `max_seconds`."""
    if demuxer not in ALLOWED_DEMUXERS:
        raise UnsupportedAudioError(f"container {demuxer!r} is not allowed")
    limit_bytes = math.ceil(max_seconds * target_rate) * 2
    # ffmpeg stops by itself a little past the limit too, if we were ever slow to kill it.
    args = [
        "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-threads", "1",
        "-protocol_whitelist", "cache,pipe", "-format_whitelist", demuxer,
        "-f", demuxer, "-i", "cache:pipe:0",
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(target_rate),
        "-t", f"{max_seconds + 1:.3f}", "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    timed_out = threading.Event()

    def _expire() -> None:
        timed_out.set()
        proc.kill()

    killer = threading.Timer(timeout_s, _expire)
    messages: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
    reader = threading.Thread(target=_tail, args=(proc.stderr, messages), daemon=True)
    out = bytearray()
    killer.start()
    feeder.start()
    reader.start()
    try:
        while len(out) <= limit_bytes:
            chunk = proc.stdout.read1(1 << 16)  # type: ignore[attr-defined]  # a BufferedReader
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None and (len(out) > limit_bytes or timed_out.is_set()):
            proc.kill()
        proc.stdout.close()
        returncode = proc.wait()
        killer.cancel()
        feeder.join()
        reader.join()
    if len(out) > limit_bytes:
        raise AudioTooLargeError(f"the audio is longer than the limit of {max_seconds:g} s")
    if timed_out.is_set():
        raise AudioError(f"the audio took longer than {timeout_s:g} s to decode: corrupt or not audio")
    if returncode != 0 and not out:
        detail = (messages[0] if messages else b"").decode("utf-8", "replace").strip().splitlines()
        log.info("could not decode upload (%s, %d bytes): %s", demuxer, len(data), (detail or ["-"])[-1][-200:])
        raise AudioError("the audio could not be decoded: corrupt, truncated or not audio")
    return bytes(out[: len(out) - len(out) % 2])


def _raw_pcm(data: bytes, params: dict[str, str], raw_rate: int | None) -> tuple[np.ndarray, int]:
    try:
        rate = raw_rate or int(params.get("rate", "0") or 0)
        channels = int(params.get("channels", "1"))
    except ValueError as exc:
        raise AudioError("raw PCM parameters must be whole numbers, e.g. 'audio/L16; rate=16000; channels=1'") from exc
    if rate not in SUPPORTED_RATES:
        raise AudioError("raw PCM needs its sample rate: send 'audio/L16; rate=16000' or the sample_rate field")
    if channels not in (1, 2):
        raise AudioError(f"raw PCM must have 1 or 2 channels, not {channels}")
    if len(data) % (2 * channels):
        raise AudioError("raw PCM must be 16-bit: odd number of bytes")
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    if channels == 2:
        samples = samples.astype(np.int32).mean(axis=1).astype(np.int16).reshape(-1, 1)
    return samples.reshape(-1), rate


def decode_audio(
    data: bytes,
    content_type: str | None,
    *,
    target_rate: int = 16000,
    raw_rate: int | None = None,
    max_bytes: int = 10 * 2**20,
    max_seconds: float = 30.0,
    min_seconds: float = 0.3,
    timeout_s: float = DECODE_TIMEOUT_S,
) -> Pcm:
    if not data:
        raise AudioError("the audio is empty")
    if len(data) > max_bytes:
        raise AudioTooLargeError(f"the audio is larger than {max_bytes} bytes")
    kind, params = parse_content_type(content_type)
    if kind in _RAW_TYPES or raw_rate:
        raw, rate = _raw_pcm(data, params, raw_rate)
        if len(raw) / rate > max_seconds:
            raise AudioTooLargeError(f"the audio is {len(raw) / rate:.1f} s long; the limit is {max_seconds:g} s")
        samples = raw if rate == target_rate else soxr.resample(raw, rate, target_rate)
    else:
        demuxer = choose_demuxer(data, content_type)
        decoded = ffmpeg_decode(data, demuxer, target_rate, max_seconds, timeout_s)
        samples = np.frombuffer(decoded, dtype="<i2")
    samples = np.asarray(samples, dtype=np.int16)
    duration = len(samples) / target_rate
    if len(samples) == 0:
        raise AudioError("the audio has no samples: corrupt or truncated")
    if duration < min_seconds:
        raise AudioError(f"the audio is only {duration:.2f} s long: truncated or cut off")
    if level_dbfs(samples) < SILENCE_DBFS:
        raise AudioError("the audio is silent: check the microphone")
    return Pcm(samples=samples.copy(), sample_rate=target_rate)


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


VOICED_FRAME_SECONDS = 0.03
VOICED_WITHIN_DB = 15.0  # a frame is speech when it is this close to the clip's loud frames
VOICED_FLOOR_RMS = 60.0  # and above this int16 RMS, whatever the clip's level


def voiced_seconds(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds of 30 ms frames at speech level for this clip, pauses not counted.

    Relative to the clip's own loud frames (98th percentile), so a quiet recording, the kind
    the engine loses, still counts its speech: one spoken word stays under 0.4 s on the shared
    real clips, and read sentences are well over 1.5 s (docs/speech.md).
    """
    frame = max(int(sample_rate * VOICED_FRAME_SECONDS), 1)
    usable = len(samples) - len(samples) % frame
    if usable <= 0:
        return 0.0
    frames = samples[:usable].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = max(VOICED_FLOOR_RMS, float(np.percentile(rms, 98)) * 10 ** (-VOICED_WITHIN_DB / 20))
    return float(np.count_nonzero(rms >= level) * frame / sample_rate)


def normalise_level(samples: np.ndarray, target_dbfs: float, peak: int = 32000) -> np.ndarray:
    """Linear gain to `target_dbfs` RMS, held so no sample passes `peak` (no clipping)."""
    level = level_dbfs(samples)
    if not math.isfinite(level):
        return samples
    gain = 10 ** ((target_dbfs - level) / 20)
    loudest = float(np.max(np.abs(samples.astype(np.int32)))) * gain
    if loudest > peak:
        gain *= peak / loudest
    out: np.ndarray = np.clip(np.round(samples.astype(np.float64) * gain), -32768, 32767).astype(np.int16)
    return out


_RATE_IN_CONF = re.compile(r"--sample-frequency=(\d+)")


def rate_from_mfcc_conf(text: str, default: int = 16000) -> int:
    """Vosk models state their rate in conf/mfcc.conf; telephone audio is resampled up to it."""
    found = _RATE_IN_CONF.search(text)
    return int(found.group(1)) if found else default
