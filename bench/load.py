"""Load and soak: mixed typed, spoken and streamed traffic against a real server over loopback.

    .venv/bin/python bench/load.py [--seconds 120] [--text-clients 4]
    .venv/bin/python bench/load.py --text-rate 20 --audio-clients 2 --stream-clients 0 --seconds 60

Closed-loop clients (each sends its next request when the previous one is answered):
typed questions to /v1/search, spoken clips to /v1/query, and WebSocket streams of the
same clips at real-time pace to /v1/stream. With --text-rate, the typed client is paced
instead (one request every 1/rate s, whether or not the last was answered) and asks
questions the service has not seen (the portal and dev sets, then numbered variants): the
latency of a new typed question while speech decodes beside it. With ../shared/speech the
spoken clips are real recordings and the default engine serves them; without it,
espeak-ng clips and Whisper (which hears espeak; viet-asr, trained on real voices, does not).
Prints throughput, p50/p99 latency and error
rate per kind, and the server's resident memory over the run (a soak: run with
--seconds 600 or more and look at the slope).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

from bench.common import Server, espeak_pcm  # noqa: E402

QUESTIONS = [
    "làm giấy khai sinh cho con cần gì",
    "đăng ký kết hôn ở đâu",
    "bố tôi mất cần làm giấy báo tử",
    "xin xác nhận tình trạng hôn nhân",
    "đăng ký thường trú cho vợ",
    "chứng thực bản sao sổ hộ khẩu",
    "xin trợ cấp cho người khuyết tật",
    "cấp lại thẻ bảo hiểm y tế bị mất",
    "thời tiết hôm nay thế nào",
    "đăng ký tạm trú cho sinh viên",
]


class Tally:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float | None) -> None:
        with self.lock:
            if seconds is None:
                self.errors[kind] = self.errors.get(kind, 0) + 1
            else:
                self.latencies.setdefault(kind, []).append(seconds)

    def summary(self) -> str:
        with self.lock:
            counts = {kind.split()[0]: (len(v), self.errors.get(kind, 0)) for kind, v in self.latencies.items()}
        return ", ".join(f"{kind} {ok} ok/{err} err" for kind, (ok, err) in counts.items())


def text_client(base: str, stop: threading.Event, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ok = client.post("/v1/search", json={"text": rng.choice(QUESTIONS)}).status_code == 200
            except httpx.HTTPError:
                ok = False
            tally.add("text /v1/search", time.perf_counter() - t0 if ok else None)


def unseen_questions() -> list[str]:
    pool: list[str] = []
    for name in ("questions_unlabelled_portal.jsonl", "questions_dev.jsonl"):
        path = SHARED / "eval" / name
        if path.is_file():
            pool += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    # /v1/search takes up to 500 characters: two dev questions paste a whole procedure name
    return list(dict.fromkeys(q for q in pool or QUESTIONS if len(q) <= 500))


def paced_text_client(base: str, rate: float, stop: threading.Event, tally: Tally) -> None:
    """Open loop: request i leaves at start + i / rate; a slow answer does not slow the sender."""
    pool = unseen_questions()
    start = time.perf_counter()
    i = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            text = pool[i % len(pool)] + (f" lần {i // len(pool)}" if i >= len(pool) else "")
            t0 = time.perf_counter()
            try:
                ok = client.post("/v1/search", json={"text": text}).status_code == 200
            except httpx.HTTPError:
                ok = False
            tally.add("text /v1/search", time.perf_counter() - t0 if ok else None)
            i += 1


def real_clips(limit: int) -> tuple[list[bytes], list[bytes]]:
    """(WAV files, 16 kHz PCM) of real read speech from ../shared/speech."""
    manifest = SHARED / "speech" / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [r for r in rows if r["sample_rate"] == 16000 and 3.0 <= r["duration_s"] <= 8.0][:limit]
    wavs = [(manifest.parent / r["file"]).read_bytes() for r in chosen]
    return wavs, [w[44:] for w in wavs]


def audio_client(base: str, clips: list[bytes], stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                res = client.post("/v1/query", content=clips[n % len(clips)], headers={"content-type": "audio/wav"})
                ok = res.status_code == 200
            except httpx.HTTPError:
                ok = False
            tally.add("audio /v1/query", time.perf_counter() - t0 if ok else None)
            n += 1


def stream_client(base: str, pcms: list[bytes], stop: threading.Event, tally: Tally) -> None:
    """Latency = end of audio to the match message (the stream itself runs at real time)."""
    url = base.replace("http://", "ws://") + "/v1/stream"
    n = 0
    while not stop.is_set():
        pcm = pcms[n % len(pcms)] + bytes(16000)  # half a second of silence after the question
        n += 1
        try:
            with connect(url, open_timeout=30) as ws:
                ws.send(json.dumps({"config": {"sample_rate": 16000, "channel": "web"}}))
                start = time.perf_counter()
                for i, offset in enumerate(range(0, len(pcm), 3200)):
                    ws.send(pcm[offset : offset + 3200])
                    ws.recv(timeout=60)
                    delay = start + (i + 1) * 0.1 - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t0 = time.perf_counter()
                ws.send('{"eof": 1}')
                ok = False
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if "match" in message:
                        ok = True
                        break
            tally.add("stream /v1/stream", time.perf_counter() - t0 if ok else None)
        except Exception:  # any failure counts as an error of this kind
            tally.add("stream /v1/stream", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--text-clients", type=int, default=4)
    parser.add_argument("--text-rate", type=float, default=0.0, help="one paced typed client at this rate instead")
    parser.add_argument("--audio-clients", type=int, default=1)
    parser.add_argument("--stream-clients", type=int, default=1)
    parser.add_argument("--rss-csv", type=Path, help="write (seconds, RSS MiB) samples here")
    args = parser.parse_args()

    env = {"TTHC_RATE_LIMIT_PER_MINUTE": "0", "TTHC_LOG_FORMAT": "text"}
    if (SHARED / "speech" / "manifest.jsonl").is_file():
        clips, pcms = real_clips(8)
        speech = "real read speech, default engine"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rendered = [espeak_pcm(q, 16000, Path(tmp), speed=120) for q in QUESTIONS[:5]]
        clips, pcms = [wav for wav, _ in rendered], [pcm for _, pcm in rendered]
        env["TTHC_ASR_ENGINE"] = "whisper"
        speech = "espeak-ng clips, Whisper"
    server = Server(env)
    process = psutil.Process(server.proc.pid)
    rss: list[tuple[float, float]] = []
    stop = threading.Event()
    tally = Tally()
    try:
        httpx.post(server.base + "/v1/query", content=clips[0], headers={"content-type": "audio/wav"}, timeout=120)
        if args.text_rate > 0:
            threads = [threading.Thread(target=paced_text_client, args=(server.base, args.text_rate, stop, tally))]
        else:
            threads = [
                threading.Thread(target=text_client, args=(server.base, stop, tally, n))
                for n in range(args.text_clients)
            ]
        for n in range(args.audio_clients):
            rotated = clips[n:] + clips[:n]
            threads.append(threading.Thread(target=audio_client, args=(server.base, rotated, stop, tally)))
        for _ in range(args.stream_clients):
            threads.append(threading.Thread(target=stream_client, args=(server.base, pcms, stop, tally)))
        start = time.monotonic()
        for t in threads:
            t.start()
        next_report = 600.0
        while time.monotonic() - start < args.seconds:
            rss.append((time.monotonic() - start, process.memory_info().rss / 2**20))
            if rss[-1][0] >= next_report:  # progress for long soaks, to stderr so the table stays clean
                print(f"{rss[-1][0] / 60:.0f} min: RSS {rss[-1][1]:.0f} MiB, {tally.summary()}", file=sys.stderr)
                next_report += 600
            time.sleep(5)
        stop.set()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - start
    finally:
        server.stop()

    typed = (
        f"1 typed client paced at {args.text_rate:g}/s (unseen questions)"
        if args.text_rate > 0
        else (f"{args.text_clients} typed clients")
    )
    print(
        f"\n{args.seconds:g} s of mixed traffic: {typed}, {args.audio_clients} spoken, "
        f"{args.stream_clients} streaming ({speech})\n"
    )
    print("| kind | done | per second | p50 | p99 | errors |\n|---|---|---|---|---|---|")
    for kind in ("text /v1/search", "audio /v1/query", "stream /v1/stream"):
        values = sorted(tally.latencies.get(kind, []))
        errors = tally.errors.get(kind, 0)
        if values:
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            print(
                f"| {kind} | {len(values)} | {len(values) / elapsed:.1f} | {statistics.median(values) * 1000:.0f} ms "
                f"| {p99 * 1000:.0f} ms | {errors} ({errors / (len(values) + errors):.1%}) |"
            )
        else:
            print(f"| {kind} | 0 | 0 | - | - | {errors} |")
    if args.rss_csv:
        args.rss_csv.write_text("seconds,rss_mib\n" + "".join(f"{t:.0f},{m:.1f}\n" for t, m in rss))
    times = np.array([t for t, _ in rss])
    mib = np.array([m for _, m in rss])
    slope = float(np.polyfit(times, mib, 1)[0] * 60) if len(rss) > 2 else 0.0
    print(f"\nserver RSS: start {mib[0]:.0f} MiB, end {mib[-1]:.0f} MiB, max {mib.max():.0f} MiB")
    print(f"RSS slope over the run: {slope:+.1f} MiB/min (after the first minute: ", end="")
    late = times >= 60
    late_slope = float(np.polyfit(times[late], mib[late], 1)[0] * 60) if late.sum() > 2 else float("nan")
    print(f"{late_slope:+.1f} MiB/min)")
    if times[-1] >= 1800:  # soak: RSS per half hour, to see whether the growth levels off
        print("\n| minutes | RSS median MiB | slope in this half hour MiB/min |\n|---|---|---|")
        for lo in np.arange(0, times[-1], 1800):
            part = (times >= lo) & (times < lo + 1800)
            if part.sum() > 2:
                part_slope = float(np.polyfit(times[part], mib[part], 1)[0] * 60)
                print(f"| {lo / 60:.0f}-{(lo + 1800) / 60:.0f} | {np.median(mib[part]):.0f} | {part_slope:+.2f} |")


if __name__ == "__main__":
    main()
