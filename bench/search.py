"""Benchmark /v1/search through a real uvicorn server, with questions it has not seen since start.

    .venv/bin/python bench/search.py [--national ../shared/data/procedures_national.jsonl] [--skip-national]

For each corpus: start-up time to ready (cold: empty embedding cache; cached), then every
question sent once ("cold": the service has not seen it since start, so no cache helps) and
then all of them again ("repeat": the query-embedding cache answers), p50/p95/p99 for each,
and the server's resident memory. Question sets: the 400 real portal questions (held-out
style: written by citizens, never used for fitting) and the 494 dev questions, from
../shared/eval; without it, corpus aliases. In the same run, before any server starts, a
bare sentence-transformers encode of the same questions in a fresh process gives the
reference the issue compares against (service cold p50 / bare encode p50).
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

BARE_ENCODE = """
import json, statistics, sys, time
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu", local_files_only=True)
model.encode(["query: khởi động"], normalize_embeddings=True)
times = []
for q in json.load(sys.stdin):
    t0 = time.perf_counter()
    model.encode(["query: " + q], normalize_embeddings=True)
    times.append(time.perf_counter() - t0)
print(statistics.median(times) * 1000)
"""


def question_sets(corpus: Path) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for name, file in (("portal", "questions_unlabelled_portal.jsonl"), ("dev", "questions_dev.jsonl")):
        path = SHARED / "eval" / file
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            questions = (json.loads(line)["question"] for line in lines if line.strip())
            # /v1/search takes up to 500 characters (two dev questions paste a whole procedure name)
            sets[name] = list(dict.fromkeys(q for q in questions if 0 < len(q.strip()) <= 500))
    if not sets:
        rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
        aliases = [a for r in rows for a in r.get("aliases", [])]
        sets["aliases"] = random.Random(7).sample(aliases, min(400, len(aliases)))
    return sets


def bare_encode_p50(questions: list[str]) -> float:
    """Median ms of a plain sentence-transformers encode, one question at a time, fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", BARE_ENCODE, str(ROOT / "models" / "multilingual-e5-small")],
        input=json.dumps(questions),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def start_server(corpus: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = dict(os.environ, TTHC_CORPUS_PATH=str(corpus), TTHC_DATA_DIR=str(data_dir), TTHC_RATE_LIMIT_PER_MINUTE="0")
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
            time.sleep(0.1)


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return statistics.median(ordered), at(0.95), at(0.99)


def timed_round(client: httpx.Client, questions: list[str]) -> list[float]:
    latencies = []
    for text in questions:
        t0 = time.perf_counter()
        res = client.post("/v1/search", json={"text": text})
        latencies.append((time.perf_counter() - t0) * 1000)
        res.raise_for_status()
    return latencies


def measure(corpus: Path, label: str, sets: dict[str, list[str]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        proc, _, cold_start = start_server(corpus, Path(data_dir))
        proc.terminate()
        proc.wait(30)
        proc, base, warm_start = start_server(corpus, Path(data_dir))
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                rounds = {name: timed_round(client, qs) for name, qs in sets.items()}  # cold: first sight
                repeats = {name: timed_round(client, qs) for name, qs in sets.items()}
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(30)
    for name in sets:
        rows.append(
            {
                "corpus": label,
                "set": f"{name} ({len(sets[name])})",
                "start_cold_s": cold_start,
                "start_cached_s": warm_start,
                "cold": percentiles(rounds[name]),
                "repeat": percentiles(repeats[name]),
                "rss_mib": rss,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--national", type=Path, default=SHARED / "data" / "procedures_national.jsonl")
    parser.add_argument("--skip-national", action="store_true")
    args = parser.parse_args()
    builtin = ROOT / "corpus" / "procedures.jsonl"
    sets = question_sets(builtin)
    bare = {name: bare_encode_p50(qs) for name, qs in sets.items()}
    rows = measure(builtin, "built-in", sets)
    if args.national.is_file() and not args.skip_national:
        with tempfile.TemporaryDirectory() as tmp:
            imported = Path(tmp) / "national.jsonl"
            subprocess.run(
                [sys.executable, "-m", "service.cli", "corpus", "import", str(args.national), "--out", str(imported)],
                check=True,
                capture_output=True,
            )
            rows += measure(imported, "national", sets)
    print(
        "| corpus | questions | start cold s | start cached s | cold p50 / p95 / p99 ms | repeat p50 / p95 / p99 ms "
        "| cold p50 ÷ bare encode | RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cold, repeat = r["cold"], r["repeat"]
        assert isinstance(cold, tuple) and isinstance(repeat, tuple)
        name = str(r["set"]).split()[0]
        print(
            f"| {r['corpus']} | {r['set']} | {r['start_cold_s']:.1f} | {r['start_cached_s']:.1f} "
            f"| {cold[0]:.1f} / {cold[1]:.1f} / {cold[2]:.1f} | {repeat[0]:.1f} / {repeat[1]:.1f} / {repeat[2]:.1f} "
            f"| {cold[0] / bare[name]:.2f} | {r['rss_mib']:.0f} |"
        )
    print(
        "\nbare sentence-transformers encode p50 (fresh process, same questions): "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in bare.items())
    )
    print(f"sequential requests over loopback; {os.cpu_count()} CPUs; default engine and settings.")


if __name__ == "__main__":
    main()
