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
from rapidfuzz.distance import Levenshtein

from service.asr import Transcriber
from service.audio import AudioError, decode_audio
from service.textnorm import clean


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


def evaluate_asr(transcriber: Transcriber, manifest: Path, limit: int | None = None) -> dict[str, Any]:
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    word_edits = words = char_edits = chars = 0
    audio_seconds = decode_seconds = 0.0
    latencies: list[float] = []
    failed = 0
    per_source: dict[str, list[int]] = {}
    for row in rows:
        data = (manifest.parent / row["file"]).read_bytes()
        t0 = time.perf_counter()
        try:
            pcm = decode_audio(data, None, target_rate=transcriber.sample_rate, max_seconds=120)
        except AudioError:
            failed += 1
            continue
        result = transcriber.transcribe(pcm)
        latencies.append(time.perf_counter() - t0)
        we, w, ce, c = error_counts(row["transcript"], result.text)
        word_edits, words, char_edits, chars = word_edits + we, words + w, char_edits + ce, chars + c
        audio_seconds += result.duration_s
        decode_seconds += result.elapsed_s
        source = per_source.setdefault(str(row.get("source_repo") or row["file"].split("/")[0]), [0, 0, 0])
        source[0] += we
        source[1] += w
        source[2] += 1
    return {
        "engine": transcriber.name,
        "clips": len(latencies),
        "undecodable": failed,
        "audio_seconds": round(audio_seconds, 1),
        "wer": word_edits / max(words, 1),
        "cer": char_edits / max(chars, 1),
        "rtf": decode_seconds / max(audio_seconds, 1e-9),
        "latency_p50_s": float(np.median(latencies)) if latencies else 0.0,
        "wer_by_source": {k: {"wer": v[0] / max(v[1], 1), "clips": v[2]} for k, v in per_source.items()},
    }


def format_asr_report(r: dict[str, Any]) -> str:
    lines = [
        f"engine: {r['engine']}  clips: {r['clips']} ({r['audio_seconds']} s audio, {r['undecodable']} undecodable)",
        f"WER {r['wer']:.3f}  CER {r['cer']:.3f}  RTF {r['rtf']:.3f}  latency p50 {r['latency_p50_s']:.2f} s",
    ]
    for source, v in r["wer_by_source"].items():
        lines.append(f"  {source:<50} WER {v['wer']:.3f}  ({v['clips']} clips)")
    return "\n".join(lines)
