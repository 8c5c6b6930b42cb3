"""Hotline benchmark: answer latency after the caller stops speaking, and calls at once.

    .venv/bin/python bench/ivr.py [--calls 8] [--levels 1,4,8,12,16,20] [--bound 3.0]

Real calls over loopback in the AudioSocket protocol against `tthc-voice serve` with the
built-in corpus, Whisper base and prompts paced at real time, as Asterisk would get them.
Each caller skips the language menu with a key, waits for the beep, speaks one question
(espeak-ng Vietnamese at 8 kHz, real-time pace) and keeps the line open with silence, as a
real line does, until the answer starts. Latency = end of speech to the first answer frame;
it includes the 0.8 s pause that tells the service the question is over.
A level of N calls at once is sustained when none fails and the 95th percentile stays under
--bound seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Server, espeak_pcm  # noqa: E402
from bench.common import free_port as pick_port  # noqa: E402
from service.offline.ivr_client import AudioSocketCaller  # noqa: E402

QUESTIONS = [
    "đăng ký kết hôn",
    "làm giấy khai sinh cho con",
    "đăng ký tạm trú",
    "xin giấy xác nhận tình trạng hôn nhân",
    "bố tôi mất cần làm giấy khai tử",
    "chứng thực bản sao giấy tờ",
]


def one_call(port: int, speech: bytes, timeout: float = 120.0) -> float | None:
    """Seconds from the end of speech to the first answer frame, or None if no answer came."""
    caller = AudioSocketCaller("127.0.0.1", port)
    try:
        caller.send_dtmf("1")  # skip the language menu
        if not caller.wait_for_beep(timeout=timeout):  # greeting, then the beep
            return None
        caller.send_audio(speech, realtime=True)
        spoke_at = time.monotonic()
        heard = len(caller.audio)
        deadline = spoke_at + timeout
        while len(caller.audio) == heard and time.monotonic() < deadline and not caller.closed:
            caller.send_silence(0.02, realtime=True)
        arrived = caller.arrival_of(heard)
        return None if arrived is None else arrived - spoke_at
    finally:
        caller.hang_up()


def level(port: int, clips: list[bytes], calls: int, spread: float) -> tuple[list[float], int]:
    """`calls` calls whose arrivals are spread evenly over `spread` seconds."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def run(n: int) -> None:
        nonlocal failures
        try:
            result = one_call(port, clips[n % len(clips)])
        except OSError:
            result = None
        with lock:
            if result is None:
                failures += 1
            else:
                latencies.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(calls)]
    for t in threads:
        t.start()
        time.sleep(max(0.05, spread / calls))
    for t in threads:
        t.join()
    return latencies, failures


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8, help="sequential calls for the latency row")
    parser.add_argument("--levels", default="1,4,8,12,16,20")
    parser.add_argument("--bound", type=float, default=3.0, help="p95 latency (s) that still counts as sustained")
    parser.add_argument(
        "--spread", type=float, default=10.0, help="seconds over which the calls of a level arrive (0: together)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clips = [espeak_pcm(q, 8000, Path(tmp))[1] for q in QUESTIONS]
    port = pick_port()
    server = Server({"TTHC_ASR_ENGINE": "whisper", "TTHC_AUDIOSOCKET_PORT": str(port), "TTHC_IVR_MAX_CALLS": "64"})
    try:
        one_call(port, clips[0])  # warm-up: first transcodes of the prompts
        sequential = [one_call(port, clips[n % len(clips)]) for n in range(args.calls)]
        answered = [s for s in sequential if s is not None]
        print("\n| measure (one call at a time) | value |\n|---|---|")
        print(f"| calls answered | {len(answered)}/{len(sequential)} |")
        if answered:
            print(f"| answer latency after speech, p50 | {statistics.median(answered):.2f} s |")
            print(f"| answer latency after speech, p95 | {p95(answered):.2f} s |")
        print(f"| server peak RSS | {server.peak_rss / 2**30:.2f} GiB |")

        for spread in (0.0, args.spread):
            print(f"\nCalls arriving over {spread:g} s (0: all ask at the same moment, the worst case)")
            print("| calls | answered | p50 latency | p95 latency | sustained |\n|---|---|---|---|---|")
            best = 0
            for calls in [int(x) for x in args.levels.split(",")]:
                latencies, failures = level(port, clips, calls, spread)
                ok = failures == 0 and bool(latencies) and p95(latencies) <= args.bound
                if ok:
                    best = calls
                p50_text = f"{statistics.median(latencies):.2f} s" if latencies else "-"
                p95_text = f"{p95(latencies):.2f} s" if latencies else "-"
                print(f"| {calls} | {len(latencies)}/{calls} | {p50_text} | {p95_text} | {'yes' if ok else 'no'} |")
            print(f"Sustained: {best} calls (p95 <= {args.bound:g} s, none failed).")
        print(f"Server peak RSS over the run: {server.peak_rss / 2**30:.2f} GiB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
