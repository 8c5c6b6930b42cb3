"""Prompt delivery benchmark: time to first byte (uncached vs cached) and bytes per answer.

    .venv/bin/python bench/prompts.py [--prompts 20]

Synthesises a few answers with espeak-ng into a scratch catalogue, serves them through a real
uvicorn server, and asks for each channel format twice: the first request transcodes, the
second is served from the cache.
"""

from __future__ import annotations

import argparse
import os
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
from service.answers.transcode import AudioFormat  # noqa: E402
from service.corpus import Corpus, load_corpus  # noqa: E402
from service.offline.synthesis import synthesize_vietnamese  # noqa: E402


def ttfb(client: httpx.Client, url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with client.stream("GET", url) as res:
        res.raise_for_status()
        chunks = res.iter_bytes()
        first = next(chunks)
        elapsed = time.perf_counter() - t0
        size = len(first) + sum(len(c) for c in chunks)
    return elapsed, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=20)
    args = parser.parse_args()
    full = load_corpus(ROOT / "corpus" / "procedures.jsonl")
    essentials = [p for p in full.procedures if p.essential][: args.prompts]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "prompts"
        synthesize_vietnamese(Corpus(tuple(essentials), full.sha256, full.path), root)
        port = free_port()
        env = dict(
            os.environ,
            TTHC_PROMPTS_DIR=str(root),
            TTHC_DATA_DIR=str(Path(tmp) / "data"),
            TTHC_USE_EMBEDDINGS="false",
            TTHC_ASR_ENGINE="none",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                while True:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.2)
                print(
                    f"{len(essentials)} essential answers (espeak-ng), mean length "
                    f"{statistics.mean(len(p.answer_vi) for p in essentials):.0f} characters\n"
                )
                print(f"{'format':<8} {'uncached ms':>12} {'cached ms':>10} {'KiB/answer':>11}")
                for fmt in AudioFormat:
                    cold, warm, sizes = [], [], []
                    for proc_ in essentials:
                        url = f"/v1/prompts/vi/{proc_.prompt_id}?format={fmt.value}"
                        t, size = ttfb(client, url)
                        cold.append(t)
                        sizes.append(size)
                        warm.append(ttfb(client, url)[0])
                    print(
                        f"{fmt.value:<8} {1000 * statistics.median(cold):>12.1f} "
                        f"{1000 * statistics.median(warm):>10.1f} {statistics.mean(sizes) / 1024:>11.1f}"
                    )
        finally:
            proc.terminate()
            proc.wait(30)
    print("\nmedians over answers; loopback; 2 CPUs" if os.cpu_count() == 2 else "\nmedians over answers; loopback")


if __name__ == "__main__":
    main()
