"""Compare settings side by side: one server per variant, every question sent to each in turn.

On a shared 2-core machine one run's absolute latency moves by a third from hour to hour;
two servers started together and asked the same question one after the other (the order
alternating) see the same machine, so their difference is the change's own.

    .venv/bin/python -m bench.side_by_side '{"TTHC_FUZZY_THREADS": "1"}' '{"TTHC_FUZZY_THREADS": "2"}'
    TTHC_CORPUS_PATH=national.jsonl .venv/bin/python -m bench.side_by_side ... --questions 300

Each variant is a JSON object of environment variables for its server (rate limit off,
own empty data dir, so the first start encodes the corpus). Questions: the unlabelled
portal set in ../shared/eval, each sent once (cold for every server).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Server

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def portal_questions(limit: int) -> list[str]:
    path = SHARED / "eval" / "questions_unlabelled_portal.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [str(r.get("question") or r.get("text") or "") for r in rows]
    return list(dict.fromkeys(q for q in questions if 0 < len(q.strip()) <= 500))[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", type=json.loads, help="JSON object of environment variables")
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args()
    questions = portal_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        servers = []
        for i, variant in enumerate(args.variants):
            data_dir = Path(tmp) / str(i)
            env = {"TTHC_DATA_DIR": str(data_dir), "TTHC_RATE_LIMIT_PER_MINUTE": "0", **variant}
            servers.append(Server(env))
        latencies: list[list[float]] = [[] for _ in servers]
        clients = [httpx.Client(base_url=s.base, timeout=30) for s in servers]
        try:
            for k, question in enumerate(questions):
                order = list(range(len(servers)))
                if k % 2:
                    order.reverse()
                for i in order:
                    t0 = time.perf_counter()
                    clients[i].post("/v1/search", json={"text": question}).raise_for_status()
                    latencies[i].append((time.perf_counter() - t0) * 1000)
        finally:
            for server in servers:
                server.stop()
    print(f"| variant | questions | p50 ms | p95 ms | p99 ms |  ({os.cpu_count()} CPUs, sequential, loopback)")
    print("|---|---|---|---|---|")
    for variant, values in zip(args.variants, latencies, strict=True):
        ordered = sorted(values)
        p95, p99 = ordered[int(0.95 * (len(ordered) - 1))], ordered[int(0.99 * (len(ordered) - 1))]
        p50 = statistics.median(ordered)
        print(f"| `{json.dumps(variant)}` | {len(ordered)} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
