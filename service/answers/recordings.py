"""Human recordings uploaded by the province's staff: validate, clean, store, keep one previous.

An upload must decode, last 0.5-120 s, not be silent and not be clipped. It is trimmed of
leading/trailing silence, loudness-normalised to -16 LUFS (ITU-R BS.1770, as EBU R128), and
stored as 16 kHz mono FLAC by rename, so a reader never sees half a file. The recording it
replaces is kept and comes back on DELETE.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import date
from pathlib import Path

import numpy as np
from pydub import AudioSegment
from pydub.silence import detect_leading_silence

from service.answers.prompts import HUMAN_MANIFEST, PromptKind, PromptRecord
from service.speech.audio import AudioError, decode_audio

PREVIOUS_MANIFEST = "previous.jsonl"
MIN_SECONDS, MAX_SECONDS = 0.5, 120.0
TARGET_LUFS = -16.0
PEAK_LIMIT = 10 ** (-1.5 / 20)
CLIPPED_SHARE = 0.001  # more than 0.1 % of samples at full scale: the recording is clipped
_lock = threading.Lock()


def _clean(data: bytes, content_type: str | None) -> AudioSegment:
    pcm = decode_audio(
        data, content_type, target_rate=16000, max_bytes=50 * 2**20, max_seconds=MAX_SECONDS, min_seconds=MIN_SECONDS
    )
    if np.mean(np.abs(pcm.samples.astype(np.int32)) >= 32700) > CLIPPED_SHARE:
        raise AudioError("the recording is clipped (too loud): record again further from the microphone")
    segment = AudioSegment(pcm.to_bytes(), sample_width=2, frame_rate=16000, channels=1)
    start = detect_leading_silence(segment, silence_threshold=-45.0)
    end = len(segment) - detect_leading_silence(segment.reverse(), silence_threshold=-45.0)
    trimmed = segment[max(0, start - 100) : min(len(segment), end + 100)]  # keep 100 ms of air
    if trimmed.duration_seconds < MIN_SECONDS:
        raise AudioError("after trimming silence the recording is shorter than 0.5 s")
    return trimmed


def _normalise_loudness(segment: AudioSegment) -> AudioSegment:
    """Linear gain to -16 LUFS (ITU-R BS.1770 via pyloudnorm), peaks kept under -1.5 dBFS.

    ffmpeg's one-pass `loudnorm` misbehaves on clips of a few seconds, which most answers are.
    """
    import pyloudnorm as pyln  # scipy.signal behind it is ~1 s of start-up; only uploads need it

    samples = np.frombuffer(segment.raw_data, "<i2").astype(np.float64) / 32768.0
    loudness = pyln.Meter(segment.frame_rate).integrated_loudness(samples)
    if not np.isfinite(loudness):
        raise AudioError("the recording is silent: check the microphone")
    gain = 10 ** ((TARGET_LUFS - loudness) / 20)
    peak = float(np.max(np.abs(samples))) * gain
    if peak > PEAK_LIMIT:
        gain *= PEAK_LIMIT / peak
    out = np.clip(samples * gain * 32768.0, -32768, 32767).astype("<i2")
    return segment._spawn(out.tobytes())


def _read(path: Path) -> dict[tuple[str, str], PromptRecord]:
    out: dict[tuple[str, str], PromptRecord] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = PromptRecord.model_validate_json(line)
                out[(record.language, record.prompt_id)] = record
    return out


def _write(path: Path, records: dict[tuple[str, str], PromptRecord]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in records.values()), encoding="utf-8")
    tmp.replace(path)


def store_recording(
    root: Path,
    language: str,
    prompt_id: str,
    kind: PromptKind,
    text: str,
    data: bytes,
    content_type: str | None,
    recorded_by: str,
) -> PromptRecord:
    segment = _normalise_loudness(_clean(data, content_type))
    buf = io.BytesIO()
    segment.export(buf, format="flac")
    body = buf.getvalue()
    folder = root / language
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(body).hexdigest()
    name = f"{prompt_id}.{digest[:12]}.flac"  # a new name per content: readers of the old file are untouched
    record = PromptRecord(
        language=language,
        prompt_id=prompt_id,
        kind=kind,
        file=f"{language}/{name}",
        duration_s=round(AudioSegment.from_file(io.BytesIO(body)).duration_seconds, 2),
        sha256=digest,
        synthetic=False,
        text=text,
        recorded_by=recorded_by,
        date=date.today().isoformat(),
    )
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(body)
    os.replace(tmp, folder / name)
    with _lock:
        current = _read(root / HUMAN_MANIFEST)
        previous = _read(root / PREVIOUS_MANIFEST)
        key = (language, prompt_id)
        if key in current and current[key].file != record.file:
            older = previous.get(key)
            previous[key] = current[key]
            _write(root / PREVIOUS_MANIFEST, previous)
            if older is not None and older.file not in (record.file, current[key].file):
                (root / older.file).unlink(missing_ok=True)
        current[key] = record
        _write(root / HUMAN_MANIFEST, current)
    return record


def restore_previous(root: Path, language: str, prompt_id: str) -> PromptRecord | None:
    """Undo the last upload: the previous recording comes back, or none is left (→ synthetic)."""
    with _lock:
        current = _read(root / HUMAN_MANIFEST)
        previous = _read(root / PREVIOUS_MANIFEST)
        key = (language, prompt_id)
        if key not in current:
            raise KeyError(f"no human recording of {prompt_id} in {language}")
        removed = current.pop(key)
        restored = previous.pop(key, None)
        if restored is not None:
            current[key] = restored
        _write(root / HUMAN_MANIFEST, current)
        _write(root / PREVIOUS_MANIFEST, previous)
    (root / removed.file).unlink(missing_ok=True)
    return restored
