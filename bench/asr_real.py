"""Engines side by side on the real Vietnamese speech in ../shared/speech.

    .venv/bin/python bench/asr_real.py [--limit N] [--no-whisper] [--json out.json]

In one run, on the same clips: viet-asr as the service runs it (a session per clip, level
gain to -20 dBFS), the same without the gain, plain
`vietasr.Pipeline.preset("transcribe").transcribe(samples)` as its package documents, both
again through an 8 kHz G.711 mu-law telephone line, and Whisper base. Prints WER, CER, RTF,
latency, empty outputs and WER per source. Decisions about engines and settings are made
on this real speech, never on espeak-ng's synthetic voice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.offline.asr_eval import evaluate_asr  # noqa: E402
from service.offline.model_prepare import prepare_whisper_model  # noqa: E402
from service.speech.asr import Transcript, VietAsrTranscriber, WhisperTranscriber  # noqa: E402
from service.speech.audio import Pcm  # noqa: E402

MANIFEST = ROOT.parent / "shared" / "speech" / "manifest.jsonl"


class PlainVietAsr:
    """The package's own one-call API, for comparison."""

    name = "vietasr-plain"
    sample_rate = 16000

    def __init__(self) -> None:
        import vietasr

        self._pipe = vietasr.Pipeline.preset("transcribe")

    def transcribe(self, pcm: Pcm) -> Transcript:
        t0 = time.perf_counter()
        text = self._pipe.transcribe(pcm.samples, float(pcm.sample_rate)).text
        return Transcript(" ".join(text.split()), self.name, 0.0, pcm.duration_s, time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-whisper", action="store_true")
    parser.add_argument("--no-telephone", action="store_true")
    parser.add_argument("--no-ungained", action="store_true", help="leave out viet-asr without the level gain")
    parser.add_argument("--json", type=Path, help="also write the full reports here")
    args = parser.parse_args()
    if not args.manifest.is_file():
        sys.exit(f"{args.manifest} not found: this benchmark needs ../shared/speech")
    runs: list[tuple[str, Any, bool]] = [
        ("viet-asr (service)", VietAsrTranscriber(), False),
        ("viet-asr (service, no gain)", VietAsrTranscriber(level_dbfs=None), False),
        ("viet-asr (plain)", PlainVietAsr(), False),
    ]
    if args.no_ungained:
        runs = [run for run in runs if "no gain" not in run[0]]
    if not args.no_telephone:
        runs += [
            ("viet-asr (service), telephone", VietAsrTranscriber(), True),
            ("viet-asr (plain), telephone", PlainVietAsr(), True),
        ]
    if not args.no_whisper:
        runs.append(("Whisper base", WhisperTranscriber(prepare_whisper_model(ROOT / "models")), False))
    reports = {}
    print("| engine | clips | WER | CER | RTF | latency p50 s | empty | WER per source |")
    print("|---|---|---|---|---|---|---|---|")
    for label, engine, phone in runs:
        r = evaluate_asr(engine, args.manifest, args.limit, telephone_line=phone)
        reports[label] = r
        sources = ", ".join(f"{k.split('/')[-1]} {v['wer']:.3f}" for k, v in sorted(r["wer_by_source"].items()))
        print(
            f"| {label} | {r['clips']} | {r['wer']:.3f} | {r['cer']:.3f} | {r['rtf']:.3f} | "
            f"{r['latency_p50_s']:.2f} | {r['empty_outputs']} | {sources} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(reports, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
