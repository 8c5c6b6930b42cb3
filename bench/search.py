"""Benchmark /v1/search through a real uvicorn server.

    .venv/bin/python bench/search.py [--national ../shared/data/procedures_national.jsonl] [--requests 300]

For each corpus: start-up time to ready (cold: empty embedding cache; warm: cached), p50/p99
latency of sequential requests over loopback, and the server's resident memory. Questions
come from ../shared/eval/questions_dev.jsonl when present, else from the corpus aliases.
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
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402

SHARED = ROOT.parent / "shared"


def start_server(corpus: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = dict(os.environ, TTHC_CORPUS_PATH=str(corpus), TTHC_DATA_DIR=str(data_dir))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=5) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            try:
                if client.get("/readyz").status_code == 200:
                    return proc, base, time.perf_counter() - t0
            except httpx.TransportError:
                pass
            if time.perf_counter() - t0 > 900:
                proc.kill()
                raise RuntimeError("server not ready after 900 s")
            time.sleep(0.2)


def questions(corpus: Path, n: int) -> list[str]:
    dev = SHARED / "eval" / "questions_dev.jsonl"
    if dev.is_file():
        pool = [json.loads(line)["question"] for line in dev.read_text(encoding="utf-8").splitlines() if line]
    else:
        pool = [a for line in corpus.read_text(encoding="utf-8").splitlines() for a in json.loads(line)["aliases"]]
    rng = random.Random(7)
    return [rng.choice(pool) for _ in range(n)]


def measure(corpus: Path, label: str, n_requests: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data_dir:
        proc, base, cold = start_server(corpus, Path(data_dir))
        proc.terminate()
        proc.wait(30)
        proc, base, warm = start_server(corpus, Path(data_dir))
        try:
            latencies = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for text in questions(corpus, n_requests):
                    t0 = time.perf_counter()
                    res = client.post("/v1/search", json={"text": text})
                    latencies.append((time.perf_counter() - t0) * 1000)
                    res.raise_for_status()
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(30)
    latencies.sort()
    n_procs = sum(1 for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip())
    return {
        "corpus": label,
        "procedures": n_procs,
        "start_cold_s": cold,
        "start_warm_s": warm,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "rss_mib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--national", type=Path, default=SHARED / "data" / "procedures_national.jsonl")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    rows = [measure(ROOT / "corpus" / "procedures.jsonl", "built-in", args.requests)]
    if args.national.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            imported = Path(tmp) / "national.jsonl"
            subprocess.run(
                [sys.executable, "-m", "service.cli", "corpus", "import", str(args.national), "--out", str(imported)],
                check=True,
                capture_output=True,
            )
            rows.append(measure(imported, "national", args.requests))
    header = (
        f"{'corpus':<10} {'procs':>6} {'start cold s':>12} {'start warm s':>12} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['corpus']:<10} {r['procedures']:>6} {r['start_cold_s']:>12.1f} {r['start_warm_s']:>12.1f} "
            f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['rss_mib']:>8.0f}"
        )
    print(f"\n{args.requests} sequential requests per corpus over loopback; {os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
