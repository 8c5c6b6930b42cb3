"""Speech benchmark: engine speed, /v1/query latency, server memory, concurrent live streams.

    .venv/bin/python bench/asr.py [--clips 20] [--stream-seconds 10] [--max-streams 16]

1. Real-time factor and peak memory per engine (viet-asr and Whisper base on shared VIVOS
   clips, else espeak-ng speech; Vosk with the small Korean model from PyPI, the stand-in for
   the Vietnamese small model). Memory: each engine loaded alone in a fresh process.
2. End-to-end /v1/query latency for 3-10 s clips through a real uvicorn server per engine,
   and the server's peak resident memory.
3. How many live 8 kHz telephone streams one machine keeps up with: N clients feed PCM at
   real-time pace over loopback (200 ms frames) to WS /v1/stream, with viet-asr (real
   speech, looped) and with Vosk; a level is sustained when the 95th percentile reply lag
   stays under 0.5 s. Bounded: at most --max-streams clients for --stream-seconds each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT.parent / "shared" / "speech" / "manifest.jsonl"
sys.path.insert(0, str(ROOT))

from bench.common import Server  # noqa: E402
from service.offline.model_prepare import packaged_vosk_model, prepare_whisper_model  # noqa: E402
from service.speech.asr import Transcriber, VietAsrTranscriber, VoskTranscriber, WhisperTranscriber  # noqa: E402
from service.speech.audio import decode_audio  # noqa: E402

SENTENCES = [
    "cho tôi hỏi làm giấy khai sinh cho con mới sinh cần mang theo những giấy tờ gì",
    "bố tôi mất hôm qua tôi cần đăng ký khai tử ở đâu và mất bao lâu",
    "tôi muốn đăng ký tạm trú cho gia đình khi chuyển đến thuê nhà ở xã này",
]


def clips(n: int, tmp: Path) -> list[bytes]:
    """3-10 s Vietnamese clips: shared read speech when present, else espeak-ng."""
    if SPEECH.is_file():
        rows = [json.loads(line) for line in SPEECH.read_text(encoding="utf-8").splitlines()]
        rows = [r for r in rows if 3.0 <= r["duration_s"] <= 10.0 and r["file"].startswith("vivos")] or [
            r for r in rows if 3.0 <= r["duration_s"] <= 10.0
        ]
        return [(SPEECH.parent / r["file"]).read_bytes() for r in rows[:n]]
    out = []
    for i in range(n):
        wav = tmp / f"c{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "vi", "-s", "120", "-w", str(wav), SENTENCES[i % len(SENTENCES)]], check=True
        )
        out.append(wav.read_bytes())
    return out


def engine_rtf(audio: list[bytes], tmp: Path) -> list[tuple[str, float, float]]:
    rows = []
    engines: list[tuple[str, Transcriber]] = [
        ("viet-asr (vi)", VietAsrTranscriber()),
        ("whisper base int8 (vi)", WhisperTranscriber(prepare_whisper_model(ROOT / "models"))),
    ]
    for name, engine in engines:
        total_audio = total_time = 0.0
        for data in audio:
            result = engine.transcribe(decode_audio(data, None, max_seconds=60))
            total_audio += result.duration_s
            total_time += result.elapsed_s
        rows.append((name, total_audio, total_time / total_audio))
    vosk = VoskTranscriber(packaged_vosk_model())
    wav = tmp / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(wav), "안녕하세요 감사합니다 " * 6], check=True)
    pcm = decode_audio(wav.read_bytes(), "audio/wav", target_rate=vosk.sample_rate, max_seconds=120)
    vosk.transcribe(pcm)  # first call pays lazy initialisation
    reps = [vosk.transcribe(pcm) for _ in range(3)]
    rows.append(("vosk small (ko model)", pcm.duration_s * 3, statistics.median(r.rtf for r in reps)))
    return rows


_RSS_PROBE = """
import sys
from service.speech.audio import decode_audio
from service.speech.asr import Transcriber, VietAsrTranscriber, VoskTranscriber, WhisperTranscriber
from service.offline.model_prepare import packaged_vosk_model, prepare_whisper_model
from pathlib import Path
name, clip = sys.argv[1], Path(sys.argv[2])
engine = {
    "vietasr": lambda: VietAsrTranscriber(),
    "whisper": lambda: WhisperTranscriber(prepare_whisper_model(Path("models"))),
    "vosk": lambda: VoskTranscriber(packaged_vosk_model()),
}[name]()
engine.transcribe(decode_audio(clip.read_bytes(), None, target_rate=engine.sample_rate, max_seconds=60))
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


# ru_maxrss survives exec on Linux (a child would report its parent's size): VmHWM does not.
_HWM = (
    "import service.speech.audio\n"
    "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))"
)


def engine_rss(audio: list[bytes], tmp: Path) -> list[tuple[str, float]]:
    """Peak RSS (MiB) of a fresh Python that loads one engine and decodes one clip."""
    clip = tmp / "clip.bin"
    clip.write_bytes(audio[0])
    baseline = subprocess.run(
        [sys.executable, "-c", _HWM],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    rows = [("python + numpy (no engine)", int(baseline.stdout) / 1024)]
    for name in ("vietasr", "whisper", "vosk"):
        done = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE, name, str(clip)], capture_output=True, text=True, cwd=ROOT, check=True
        )
        rows.append((name, int(done.stdout.strip().splitlines()[-1]) / 1024))
    return rows


def query_latency(audio: list[bytes], engine: str) -> tuple[float, float, float]:
    server = Server({"TTHC_ASR_ENGINE": engine})
    try:
        times = []
        with httpx.Client(base_url=server.base, timeout=120) as client:
            for data in audio:
                t0 = time.perf_counter()
                client.post("/v1/query", content=data, headers={"content-type": "audio/wav"}).raise_for_status()
                times.append(time.perf_counter() - t0)
        return statistics.median(times), float(np.percentile(times, 95)), server.peak_rss / 2**20
    finally:
        server.stop()


def _feed(url: str, pcm: bytes, lags: list[float], errors: list[str]) -> None:
    frame = 3200  # 200 ms of 8 kHz 16-bit audio, as Asterisk sends
    try:
        with connect(url, open_timeout=30) as ws:
            start = time.perf_counter()
            for i in range(0, len(pcm), frame):
                due = start + (i // frame) * 0.2
                time.sleep(max(0.0, due - time.perf_counter()))
                sent = time.perf_counter()
                ws.send(pcm[i : i + frame])
                ws.recv(timeout=30)
                lags.append(time.perf_counter() - sent)
            ws.send('{"eof": 1}')
            ws.recv(timeout=30)
            ws.recv(timeout=30)
    except Exception as exc:  # a refused or broken stream counts against the level
        errors.append(repr(exc))


def _stream_audio(engine: str, seconds: float, audio: list[bytes], tmp: Path) -> bytes:
    """8 kHz 16-bit PCM of `seconds`: real Vietnamese speech for viet-asr, Korean for the Korean Vosk model."""
    if engine == "vosk":
        wav = tmp / "ko.wav"
        text = "안녕하세요 감사합니다 " * 20
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(wav), text], check=True)
        sources = [wav.read_bytes()]
    else:
        sources = audio[:5]
    raw = b"".join(decode_audio(data, None, target_rate=8000, max_seconds=60).to_bytes() for data in sources)
    return (raw * (int(seconds * 16000 / len(raw)) + 1))[: int(seconds * 16000)]


def live_streams(
    engine: str, seconds: float, max_streams: int, audio: list[bytes], tmp: Path
) -> list[tuple[int, float, float, int]]:
    pcm = _stream_audio(engine, seconds, audio, tmp)
    env = {
        "TTHC_ASR_ENGINE": engine,
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_MAX_STREAMS": str(max_streams),
        "TTHC_MAX_STREAMS_PER_CLIENT": str(max_streams),  # every client here is 127.0.0.1
        "TTHC_ASR_WORKERS": str(max(2, os.cpu_count() or 2)),
    }
    if engine == "vosk":
        env["TTHC_VOSK_MODEL"] = str(packaged_vosk_model())
    server = Server(env)
    url = f"ws://127.0.0.1:{server.port}/v1/stream"
    results = []
    try:
        for n in (1, 2, 4, 8, 12, 16):
            if n > max_streams:
                break
            lags: list[float] = []
            errors: list[str] = []
            threads = [threading.Thread(target=_feed, args=(url, pcm, lags, errors)) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            p95 = float(np.percentile(lags, 95)) if lags else float("inf")
            results.append((n, float(np.median(lags)) if lags else float("inf"), p95, len(errors)))
            if p95 > 0.5 or errors:
                break
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--max-streams", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        audio = clips(args.clips, tmp)
        print(f"{'engine':<26} {'audio s':>8} {'RTF':>6}")
        for name, secs, rtf in engine_rtf(audio, tmp):
            print(f"{name:<26} {secs:>8.1f} {rtf:>6.3f}")
        print(f"\n{'engine loaded alone':<28} {'peak RSS MiB':>12}")
        for name, mib in engine_rss(audio, tmp):
            print(f"{name:<28} {mib:>12.0f}")
        for engine in ("vietasr", "whisper"):
            p50, p95, rss = query_latency(audio, engine)
            print(
                f"\n/v1/query, {len(audio)} clips of 3-10 s, {engine} (+ e5): p50 {p50:.2f} s  p95 {p95:.2f} s  "
                f"server peak RSS {rss:.0f} MiB"
            )
        for engine in ("vietasr", "vosk"):
            print(f"\nlive 8 kHz streams, {engine}, {args.stream_seconds:g} s each at real-time pace")
            print(f"{'streams':>8} {'lag p50 s':>10} {'lag p95 s':>10} {'errors':>7}")
            for n, p50l, p95l, errs in live_streams(engine, args.stream_seconds, args.max_streams, audio, tmp):
                print(f"{n:>8} {p50l:>10.3f} {p95l:>10.3f} {errs:>7}")
    print(f"\n{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
