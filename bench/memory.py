"""Resident memory of the running service per speech engine: the budget of a 4 GB desk PC.

    .venv/bin/python bench/memory.py [--engines vietasr,whisper,vosk,none]

Each engine gets its own `tthc-voice serve` (built-in corpus, cached embeddings). Once ready
it answers 5 real spoken questions on /v1/query (VIVOS/FPT clips from ../shared/speech,
else espeak-ng) and 50 typed ones; the table gives RSS when ready, RSS after the traffic
and the peak (VmHWM), and which heavy libraries the process loaded.
Vosk runs the Korean model from PyPI (the Vietnamese one cannot be fetched here): it shows
the engine's cost, not its accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Server, espeak_pcm  # noqa: E402

MANIFEST = ROOT.parent / "shared" / "speech" / "manifest.jsonl"
TYPED = [
    "làm giấy khai sinh cho con",
    "đăng ký kết hôn cần gì",
    "xin cấp lại thẻ bảo hiểm y tế",
    "chứng thực bản sao giấy tờ",
    "đăng ký thường trú cho vợ",
]


def clips(tmp: Path) -> list[bytes]:
    if MANIFEST.is_file():
        rows = [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line.strip()]
        chosen = [r for r in rows if 2.0 <= r["duration_s"] <= 8.0][:5]
        return [(MANIFEST.parent / r["file"]).read_bytes() for r in chosen]
    return [espeak_pcm(q, 16000, tmp)[0] for q in TYPED]


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def loaded_libraries(pid: int) -> str:
    maps = Path(f"/proc/{pid}/maps").read_text()
    names = {"torch": "libtorch", "ctranslate2": "libctranslate2", "vosk": "libvosk", "onnxruntime": "onnxruntime"}
    return ", ".join(name for name, marker in names.items() if marker in maps) or "-"


def measure(engine: str, audio: list[bytes], data_dir: Path) -> dict[str, object]:
    env = {"TTHC_ASR_ENGINE": engine, "TTHC_RATE_LIMIT_PER_MINUTE": "0", "TTHC_DATA_DIR": str(data_dir)}
    if engine == "vosk":
        from service.offline.model_prepare import packaged_vosk_model

        env["TTHC_VOSK_MODEL"] = str(packaged_vosk_model())
    server = Server(env)
    try:
        proc = psutil.Process(server.proc.pid)
        ready = proc.memory_info().rss / 2**20
        spoken = 0
        with httpx.Client(base_url=server.base, timeout=120) as client:
            if engine != "none":
                for clip in audio:
                    spoken += client.post("/v1/query", content=clip, headers={"content-type": "audio/wav"}).is_success
            for i in range(50):
                client.post("/v1/search", json={"text": f"{TYPED[i % len(TYPED)]} lần {i}"}).raise_for_status()
        return {
            "engine": engine,
            "ready": ready,
            "after": proc.memory_info().rss / 2**20,
            "peak": vm_hwm_mib(server.proc.pid),
            "spoken": f"{spoken}/{len(audio)}" if engine != "none" else "-",
            "libraries": loaded_libraries(server.proc.pid),
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="vietasr,whisper,vosk,none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = clips(Path(tmp))
        rows = [measure(engine, audio, Path(tmp) / "data") for engine in args.engines.split(",")]
    print("| engine | RSS ready MiB | RSS after traffic MiB | peak (VmHWM) MiB | spoken answered | native libraries |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['ready']:.0f} | {r['after']:.0f} | {r['peak']:.0f} | {r['spoken']} "
            f"| {r['libraries']} |"
        )


if __name__ == "__main__":
    main()
