"""When has the speaker finished? End-of-question rules compared on real speech.

    .venv/bin/python bench/endpointing.py [--pairs 20]

Each case is two real clips from ../shared/speech joined by a short pause (one question said
in two breaths), then 3 s of silence, streamed in 100 ms frames through a viet-asr session.
A rule must not fire in the pause (a cut-off) and should fire soon after the speech ends.
Rules: the RMS pause rule the service uses (0.8 s under RMS 300), the engine's own endpoint
(`accept()` returning true), and "the engine's partial text has not changed for S s".
Speech starts and ends where 20 ms frames rise 12 dB above the clip's own noise floor; each
clip is cut to that, so the pause between the two is exactly the one put there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.speech.asr import VietAsrTranscriber  # noqa: E402
from service.speech.audio import decode_audio  # noqa: E402
from service.speech.stream import PauseDetector  # noqa: E402

MANIFEST = ROOT.parent / "shared" / "speech" / "manifest.jsonl"
RATE = 16000
FRAME = RATE // 10


def speech_bounds(samples: np.ndarray) -> tuple[float, float]:
    """First and last 20 ms frame 12 dB above the clip's own noise floor (its 10th percentile)."""
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    level = max(30.0, 4.0 * float(np.percentile(rms, 10)))
    loud = np.where(rms > level)[0]
    if not len(loud):
        return 0.0, 0.0
    return loud[0] * 0.02, (loud[-1] + 1) * 0.02


def run_case(engine: VietAsrTranscriber, a: np.ndarray, b: np.ndarray, gap: float) -> dict[str, float | None]:
    """Fire times (s from the start) of each rule, plus where B's speech starts and ends."""
    _, a_end = speech_bounds(a)
    b_start, b_end = speech_bounds(b)
    a = a[: int(a_end * RATE)]  # the pause is exactly `gap`: trailing and leading silences removed
    b = b[int(b_start * RATE) : int(b_end * RATE)]
    signal = np.concatenate([a, np.zeros(int(gap * RATE), np.int16), b, np.zeros(3 * RATE, np.int16)])
    second_starts = (len(a) + int(gap * RATE)) / RATE
    speech_end = second_starts + len(b) / RATE
    fired: dict[str, float | None] = {"rms 0.8 s": None, "engine endpoint": None}
    stable: dict[float, float | None] = {0.8: None, 1.2: None}
    pause = PauseDetector()
    last_text, changed_at = "", 0.0
    with engine.session(RATE) as session:
        for i in range(0, len(signal), FRAME):
            chunk = signal[i : i + FRAME]
            now = (i + len(chunk)) / RATE
            endpoint = session.accept(chunk)
            if endpoint and fired["engine endpoint"] is None:
                fired["engine endpoint"] = now
            if pause.update(chunk, len(chunk) / RATE) and fired["rms 0.8 s"] is None:
                fired["rms 0.8 s"] = now
            text = session.partial().text
            if text != last_text:
                last_text, changed_at = text, now
            for s in stable:
                if stable[s] is None and last_text and now - changed_at >= s:
                    stable[s] = now
    out: dict[str, float | None] = dict(fired)
    out.update({f"text unchanged {s:g} s": t for s, t in stable.items()})
    out["_second_starts"], out["_speech_end"] = second_starts, speech_end
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20, help="pairs per source")
    args = parser.parse_args()
    if not MANIFEST.is_file():
        sys.exit("this benchmark needs ../shared/speech")
    rows = [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines()]
    engine = VietAsrTranscriber()
    results: dict[str, list[dict[str, float | None]]] = {}
    for source in ("vivos", "fosd"):
        chosen = [r for r in rows if r["file"].startswith(source) and 2.0 <= r["duration_s"] <= 8.0][: 2 * args.pairs]
        clips = [decode_audio((MANIFEST.parent / r["file"]).read_bytes(), None, max_seconds=60).samples for r in chosen]
        for gap in (0.4, 0.7):
            key = f"{source}, pause {gap:g} s"
            results[key] = [run_case(engine, clips[i], clips[i + 1], gap) for i in range(0, len(clips) - 1, 2)]
    rules = [k for k in next(iter(results.values()))[0] if not k.startswith("_")]
    print("| cases | rule | cut in the pause | never fired | fired after speech end: median s | p90 s |")
    print("|---|---|---|---|---|---|")
    for key, cases in results.items():
        for rule in rules:
            cut = missed = 0
            delays = []
            for c in cases:
                t = c[rule]
                if t is None:
                    missed += 1
                elif t < c["_second_starts"]:  # type: ignore[operator]
                    cut += 1
                else:
                    delays.append(t - c["_speech_end"])  # type: ignore[operator]
            med = f"{statistics.median(delays):.2f}" if delays else "-"
            p90 = f"{np.percentile(delays, 90):.2f}" if delays else "-"
            print(f"| {key} ({len(cases)}) | {rule} | {cut} | {missed} | {med} | {p90} |", flush=True)


if __name__ == "__main__":
    main()
