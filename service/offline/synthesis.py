"""Synthetic Vietnamese answers with espeak-ng, so a kiosk speaks before anyone has recorded.

Run by setup (`tthc-voice prompts synthesize`), never by the server; every file is marked synthetic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from service.answers.languages import DEFAULT_LANGUAGES, LanguageRegistry
from service.answers.prompts import SYNTHETIC_MANIFEST, PromptKind, PromptRecord, prompt_texts, read_manifest
from service.answers.transcode import file_sha256
from service.corpus import Corpus


def _render(text: str, target: Path, voice: str, rate: int) -> float:
    """espeak-ng to a temporary WAV, ffmpeg to 16 kHz mono Opus; returns the duration."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "p.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True)
        with wave.open(str(wav)) as w:
            duration = float(w.getnframes()) / float(w.getframerate())
        subprocess.run(
            [
                "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(wav),
                "-ac",
                "1",
                "-ar",
                "16000",
                "-c:a",
                "libopus",
                "-b:a",
                "24k",
                "-application",
                "voip",
                str(target),
            ],
            check=True,
        )
    return duration


def synthesize_vietnamese(
    corpus: Corpus,
    root: Path,
    registry: LanguageRegistry | None = None,
    voice: str = "vi",
    rate: int = 140,
    tile_names: Mapping[str, str] | None = None,
) -> tuple[int, int]:
    """Render every prompt text with espeak-ng into audio_prompts/vi/*.tts.ogg.

    Unchanged texts are skipped (the manifest keeps each text). Returns (made, kept).
    """
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    texts = prompt_texts(corpus, registry or LanguageRegistry(languages=DEFAULT_LANGUAGES), tile_names)
    previous = {r.prompt_id: r for r in read_manifest(root / SYNTHETIC_MANIFEST) if r.language == "vi"}
    (root / "vi").mkdir(parents=True, exist_ok=True)
    kept: list[PromptRecord] = []
    todo: list[tuple[str, PromptKind, str]] = []
    for prompt_id, (kind, text) in sorted(texts.items()):
        old = previous.get(prompt_id)
        if old and old.text == text and (root / old.file).is_file():
            kept.append(old)
        else:
            todo.append((prompt_id, kind, text))

    def make(item: tuple[str, PromptKind, str]) -> PromptRecord:
        prompt_id, kind, text = item
        rel = f"vi/{prompt_id}.tts.ogg"
        duration = _render(text, root / rel, voice, rate)
        return PromptRecord(
            language="vi",
            prompt_id=prompt_id,
            kind=kind,
            file=rel,
            duration_s=round(duration, 2),
            sha256=file_sha256(root / rel),
            synthetic=True,
            text=text,
            recorded_by=f"espeak-ng {voice}",
            date=date.today().isoformat(),
        )

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # subprocesses: threads suffice
        made = list(pool.map(make, todo))
    records = sorted([*kept, *made], key=lambda r: r.prompt_id)
    manifest = root / SYNTHETIC_MANIFEST
    tmp_manifest = manifest.with_suffix(".tmp")
    tmp_manifest.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    tmp_manifest.replace(manifest)
    return len(made), len(kept)
