"""What hostile uploads cost: decompression bombs and playlists against a real server.

    .venv/bin/python bench/intake.py [--hours 3]

Sends hours of silence compressed into a few hundred KB (FLAC, Opus) and an HLS playlist to
/v1/query, sampling the resident memory of the service and its ffmpeg children every 5 ms.
Prints, per upload: size, answer, time to answer, peak growth and what stays afterwards.
The decoding path is the same for every engine, so the small packaged Vosk model is used.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Server  # noqa: E402
from service.offline.model_prepare import packaged_vosk_model  # noqa: E402


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def peak_during(proc: psutil.Process, action: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
    """`action`'s response and the highest RSS seen meanwhile, sampled every 5 ms."""
    peak, done = tree_rss(proc), threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        return action(), peak
    finally:
        done.set()
        watcher.join()


def silence(path: Path, seconds: int, *codec: str) -> bytes:
    import subprocess

    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", str(seconds)]
        + [*codec, str(path)],
        check=True,
    )
    return path.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="length of the FLAC bomb (the Opus one is 2/3)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    seconds = int(args.hours * 3600)
    uploads = {
        f"FLAC, {args.hours:g} h of silence": (silence(tmp / "b.flac", seconds, "-c:a", "flac"), "audio/flac"),
        f"Opus, {args.hours * 2 / 3:g} h of silence": (
            silence(tmp / "b.ogg", seconds * 2 // 3, "-c:a", "libopus", "-b:a", "24k"),
            "audio/ogg",
        ),
        "HLS playlist (one segment URL)": (
            b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nhttp://127.0.0.1:9/probe.ts\n#EXT-X-ENDLIST\n",
            "application/octet-stream",
        ),
    }
    server = Server(
        {
            "TTHC_USE_EMBEDDINGS": "false",
            "TTHC_ASR_ENGINE": "vosk",
            "TTHC_VOSK_MODEL": str(packaged_vosk_model()),
            "TTHC_DATA_DIR": str(tmp),
            "TTHC_RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    proc = psutil.Process(server.proc.pid)

    def post_upload(url: str, data: bytes, ctype: str) -> httpx.Response:
        return httpx.post(url, content=data, headers={"content-type": ctype}, timeout=600)

    print("| upload | bytes | status | seconds | peak growth MiB | after MiB | service RSS before MiB |")
    print("|---|---|---|---|---|---|---|")
    try:
        for name, (data, ctype) in uploads.items():
            time.sleep(1)
            before = tree_rss(proc)
            started = time.perf_counter()
            res, peak = peak_during(proc, partial(post_upload, f"{server.base}/v1/query", data, ctype))
            elapsed = time.perf_counter() - started
            time.sleep(1)
            after = tree_rss(proc)
            print(
                f"| {name} | {len(data):,} | {res.status_code} | {elapsed:.2f} | {(peak - before) / 2**20:.1f} "
                f"| {(after - before) / 2**20:+.1f} | {before / 2**20:.0f} |"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
