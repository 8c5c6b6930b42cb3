"""Speech recognition accuracy on a manifest of clips: WER, CER, real-time factor, latency.

Manifest rows (JSONL): {"file": path relative to the manifest, "transcript": "...", ...}.
Text is compared after the same normalisation the matcher uses (NFC, lower case, no
punctuation), with tone marks kept: in Vietnamese a wrong tone is a wrong word.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from rapidfuzz.distance import Levenshtein

from service.matching.textnorm import clean
from service.speech.asr import Transcriber
from service.speech.audio import AudioError, Pcm, decode_audio

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def mulaw_round_trip(samples: np.ndarray) -> np.ndarray:
    """int16 -> G.711 mu-law -> int16: the segmented table of the standard, encoded the way
    Asterisk's 16-bit encoder does (bias 0x84, clip 32635); the loss a telephone line adds.
    Python's audioop gives the same 255 levels and the same codes for every sample >= 0."""
    x = samples.astype(np.int32)
    negative = x < 0
    magnitude = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.frexp((magnitude >> 7).astype(np.float64))[1] - 1  # segment 0..7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    linear = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    out: np.ndarray = np.where(negative, -linear, linear).astype(np.int16)
    return out


def telephone(pcm: Pcm, target_rate: int) -> Pcm:
    """The clip as the hotline hears it: 8 kHz, mu-law, then back up to the engine's rate."""
    narrow = soxr.resample(pcm.samples, pcm.sample_rate, 8000).astype(np.int16)
    line = mulaw_round_trip(narrow)
    return Pcm(soxr.resample(line, 8000, target_rate).astype(np.int16), target_rate)


def error_counts(reference: str, hypothesis: str) -> tuple[int, int, int, int]:
    """(word edits, reference words, character edits, reference characters)."""
    ref, hyp = clean(reference), clean(hypothesis)
    ref_words, hyp_words = ref.split(), hyp.split()
    return (
        Levenshtein.distance(ref_words, hyp_words),
        len(ref_words),
        Levenshtein.distance(ref, hyp),
        len(ref),
    )


def evaluate_asr(
    transcriber: Transcriber, manifest: Path, limit: int | None = None, telephone_line: bool = False
) -> dict[str, Any]:
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    word_edits = words = char_edits = chars = 0
    audio_seconds = decode_seconds = 0.0
    latencies: list[float] = []
    failed = empty = 0
    per_source: dict[str, list[int]] = {}
    for row in rows:
        data = (manifest.parent / row["file"]).read_bytes()
        t0 = time.perf_counter()
        try:
            pcm = decode_audio(data, None, target_rate=transcriber.sample_rate, max_seconds=120)
        except AudioError:
            failed += 1
            continue
        if telephone_line:
            pcm = telephone(pcm, transcriber.sample_rate)
        result = transcriber.transcribe(pcm)
        latencies.append(time.perf_counter() - t0)
        empty += not result.text.strip()
        we, w, ce, c = error_counts(row["transcript"], result.text)
        word_edits, words, char_edits, chars = word_edits + we, words + w, char_edits + ce, chars + c
        audio_seconds += result.duration_s
        decode_seconds += result.elapsed_s
        source = per_source.setdefault(str(row.get("source_repo") or row["file"].split("/")[0]), [0, 0, 0, 0, 0])
        for i, n in enumerate((we, w, ce, c, 1)):
            source[i] += n
    return {
        "engine": transcriber.name,
        "telephone": telephone_line,
        "clips": len(latencies),
        "empty_outputs": empty,
        "undecodable": failed,
        "audio_seconds": round(audio_seconds, 1),
        "wer": word_edits / max(words, 1),
        "cer": char_edits / max(chars, 1),
        "rtf": decode_seconds / max(audio_seconds, 1e-9),
        "latency_p50_s": float(np.median(latencies)) if latencies else 0.0,
        "wer_by_source": {
            k: {"wer": v[0] / max(v[1], 1), "cer": v[2] / max(v[3], 1), "clips": v[4]} for k, v in per_source.items()
        },
    }


def format_asr_report(r: dict[str, Any]) -> str:
    lines = [
        f"engine: {r['engine']}{' (telephone line)' if r['telephone'] else ''}  clips: {r['clips']} "
        f"({r['audio_seconds']} s audio, {r['undecodable']} undecodable, {r['empty_outputs']} empty outputs)",
        f"WER {r['wer']:.3f}  CER {r['cer']:.3f}  RTF {r['rtf']:.3f}  latency p50 {r['latency_p50_s']:.2f} s",
    ]
    for source, v in r["wer_by_source"].items():
        lines.append(f"  {source:<50} WER {v['wer']:.3f}  CER {v['cer']:.3f}  ({v['clips']} clips)")
    return "\n".join(lines)
