"""Spoken-query accuracy: the dev questions spoken by espeak-ng, sent through /v1/query.

    .venv/bin/python bench/spoken.py [--limit 100] [--rate 90]

Prints top-1/top-3 for the same questions typed (/v1/search) and spoken (/v1/query), so the
loss from speech recognition is visible. espeak-ng's Vietnamese voice is robotic: this is a
harsh, repeatable stand-in for a real caller, not a measure of real-caller accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "questions_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=DEV)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--rate", type=int, default=90, help="espeak-ng words per minute (slow speech)")
    args = parser.parse_args()
    corpus = {json.loads(line)["code"] for line in (ROOT / "corpus" / "procedures.jsonl").open(encoding="utf-8")}
    rows = [json.loads(line) for line in args.questions.open(encoding="utf-8")]
    rows = [r for r in rows if r["expected"] in ("answer", "clarify") and corpus & set(r["codes"] or [])]
    random.Random(11).shuffle(rows)
    rows = rows[: args.limit]

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            typed = [0, 0]
            spoken = [0, 0]
            latencies = []
            with tempfile.TemporaryDirectory() as tmp:
                for i, row in enumerate(rows):
                    ok = set(row["codes"])
                    codes = [
                        m["code"] for m in client.post("/v1/search", json={"text": row["question"]}).json()["matches"]
                    ]
                    typed[0] += bool(codes[:1] and codes[0] in ok)
                    typed[1] += bool(ok & set(codes[:3]))
                    wav = Path(tmp) / f"{i}.wav"
                    subprocess.run(
                        ["espeak-ng", "-v", "vi", "-s", str(args.rate), "-w", str(wav), row["question"]], check=True
                    )
                    t0 = time.perf_counter()
                    res = client.post("/v1/query", content=wav.read_bytes(), headers={"content-type": "audio/wav"})
                    latencies.append(time.perf_counter() - t0)
                    body = res.json()
                    codes = [m["code"] for m in body.get("matches", [])]
                    spoken[0] += bool(codes[:1] and codes[0] in ok)
                    spoken[1] += bool(ok & set(codes[:3]))
                    if i < 5:
                        print(f"  said: {row['question']}\n  heard: {body.get('transcript')}")
    finally:
        proc.terminate()
        proc.wait(30)
    n = len(rows)
    print(f"\n{n} answerable dev questions, espeak-ng vi at {args.rate} wpm, engine from TTHC_ASR_ENGINE\n")
    print(f"{'input':<8} {'top1':>6} {'top3':>6}")
    print(f"{'typed':<8} {typed[0] / n:>6.3f} {typed[1] / n:>6.3f}")
    print(f"{'spoken':<8} {spoken[0] / n:>6.3f} {spoken[1] / n:>6.3f}")
    print(f"\n/v1/query latency p50 {statistics.median(latencies):.2f} s")


if __name__ == "__main__":
    main()
