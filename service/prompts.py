"""The audio prompt catalogue: which recording to play, and in which format.

Recordings live under `audio_prompts/<lang>/`. Human recordings are listed in
`audio_prompts/manifest.jsonl` (committed); speech synthesised with espeak-ng so kiosks speak
before anyone has recorded is listed in `audio_prompts/synthetic.jsonl` and always marked
`synthetic`. Resolution walks the language's fallback chain and, within a language, prefers a
human recording to a synthetic one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field
from pydub import AudioSegment

from service.corpus import Corpus
from service.importer import clip, short_name
from service.languages import DEFAULT_LANGUAGES, LANGUAGE_PATTERN, LanguageRegistry

log = logging.getLogger(__name__)

HUMAN_MANIFEST = "manifest.jsonl"
SYNTHETIC_MANIFEST = "synthetic.jsonl"


class PromptKind(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    NOT_UNDERSTOOD = "not_understood"
    OUT_OF_SCOPE = "out_of_scope"
    LANGUAGE_MENU = "language_menu"
    GREETING = "greeting"
    TITLE = "title"  # a procedure's short name, read out as a choice when the service asks back
    LANGUAGE_NAME = "language_name"  # a language saying its own name (kiosk picker, IVR menu)
    SYSTEM = "system"  # telephone glue: key presses, goodbye, busy


# System prompts every language needs, with the Vietnamese text a voice talent translates.
SYSTEM_PROMPTS: dict[str, tuple[PromptKind, str]] = {
    "sys-greeting": (PromptKind.GREETING, "Xin chào. Bà con cần hỏi thủ tục gì, xin hãy nói sau tiếng bíp."),
    "sys-not-understood": (PromptKind.NOT_UNDERSTOOD, "Xin lỗi, tôi chưa nghe rõ. Bà con vui lòng nói lại."),
    "sys-out-of-scope": (
        PromptKind.OUT_OF_SCOPE,
        "Xin lỗi, việc này không thuộc thủ tục của xã. Bà con vui lòng hỏi cán bộ một cửa.",
    ),
    "sys-clarify": (PromptKind.CLARIFY, "Bà con muốn hỏi thủ tục nào? Xin chọn một trong các thủ tục sau."),
    "sys-language-menu": (
        PromptKind.LANGUAGE_MENU,
        "Tiếng Việt, bấm phím một. Tiếng H'Mông, bấm phím hai. Tiếng Thái, bấm phím ba.",
    ),
    "sys-choose-language": (PromptKind.SYSTEM, "Xin chào. Xin chọn ngôn ngữ."),
    "sys-ask-again": (PromptKind.SYSTEM, "Bà con muốn hỏi thủ tục khác, xin nói sau tiếng bíp."),
    "sys-goodbye": (PromptKind.SYSTEM, "Cảm ơn bà con đã gọi. Chào tạm biệt."),
    "sys-busy": (PromptKind.SYSTEM, "Hệ thống đang bận. Bà con vui lòng gọi lại sau ít phút."),
    "sys-not-recorded": (
        PromptKind.SYSTEM,
        "Câu trả lời này chưa được ghi âm bằng tiếng của bà con. Xin nghe bằng tiếng Việt.",
    ),
    "sys-unavailable": (PromptKind.SYSTEM, "Máy đang bận, mời bà con gặp cán bộ một cửa."),
    **{
        f"sys-press-{digit}": (PromptKind.SYSTEM, f"bấm phím {word}.")
        for digit, word in enumerate(["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"])
    },
}


# Played before every answer that falls back to Vietnamese, so each language records it first.
NOT_RECORDED_PROMPT = "sys-not-recorded"
FIRST_TO_RECORD = (NOT_RECORDED_PROMPT,)


def title_prompt_id(prompt_id: str) -> str:
    return f"{prompt_id}-title"


def language_prompt_id(code: str) -> str:
    return f"lang-{code}"


def prompt_texts(
    corpus: Corpus, registry: LanguageRegistry, tile_names: Mapping[str, str] | None = None
) -> dict[str, tuple[PromptKind, str]]:
    """Every prompt the service can play, with the Vietnamese text it speaks (what talents translate).

    `tile_names` are the kiosk's life-event tiles (prompt id -> plain name), spoken when touched.
    """
    texts: dict[str, tuple[PromptKind, str]] = {}
    for proc in corpus.procedures:
        texts[proc.prompt_id] = (PromptKind.ANSWER, proc.answer_vi)
        texts[title_prompt_id(proc.prompt_id)] = (PromptKind.TITLE, clip(short_name(proc.name), 90))
    for prompt_id, label in (tile_names or {}).items():
        texts[prompt_id] = (PromptKind.TITLE, label)
    texts.update(SYSTEM_PROMPTS)
    for lang in registry.enabled():
        texts[language_prompt_id(lang.code)] = (PromptKind.LANGUAGE_NAME, lang.name_vi)
    return texts


class PromptRecord(BaseModel):
    language: str = Field(pattern=LANGUAGE_PATTERN)
    prompt_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: PromptKind
    file: str  # relative to audio_prompts/
    duration_s: float
    sha256: str
    synthetic: bool
    text: str
    recorded_by: str
    date: str


class AudioFormat(StrEnum):
    WAV16K = "wav16k"
    OPUS = "opus"
    MP3 = "mp3"
    ULAW8K = "ulaw8k"
    SLIN8K = "slin8k"


# format -> (ffmpeg container, extra export parameters, sample rate, media type, file suffix)
_FORMATS: dict[AudioFormat, tuple[str, list[str], int, str, str]] = {
    AudioFormat.WAV16K: ("wav", [], 16000, "audio/wav", "wav"),
    AudioFormat.OPUS: ("ogg", ["-c:a", "libopus", "-b:a", "24k", "-application", "voip"], 16000, "audio/ogg", "ogg"),
    AudioFormat.MP3: ("mp3", ["-b:a", "32k"], 16000, "audio/mpeg", "mp3"),
    AudioFormat.ULAW8K: ("wav", ["-c:a", "pcm_mulaw"], 8000, "audio/wav", "wav"),
    AudioFormat.SLIN8K: ("s16le", [], 8000, "audio/L16;rate=8000", "sln"),
}


def media_type(fmt: AudioFormat) -> str:
    return _FORMATS[fmt][3]


@dataclass(frozen=True)
class ResolvedPrompt:
    record: PromptRecord
    path: Path
    fallback_used: bool


def _read_manifest(path: Path) -> list[PromptRecord]:
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(PromptRecord.model_validate_json(line))
            except ValueError as exc:
                log.warning("%s:%d: skipped invalid prompt record: %s", path, number, exc)
    return rows


class PromptCatalogue:
    def __init__(self, root: Path, registry: LanguageRegistry) -> None:
        self.root = root
        self.registry = registry
        self._records: dict[tuple[str, str, bool], PromptRecord] = {}
        for record in [*_read_manifest(root / SYNTHETIC_MANIFEST), *_read_manifest(root / HUMAN_MANIFEST)]:
            if (root / record.file).is_file():
                self._records[(record.language, record.prompt_id, record.synthetic)] = record

    def resolve(self, prompt_id: str, language: str) -> ResolvedPrompt | None:
        """Best recording for the prompt: the language, then its fallbacks; human before synthetic."""
        for lang in self.registry.chain(language):
            for synthetic in (False, True):
                record = self._records.get((lang, prompt_id, synthetic))
                if record is not None:
                    return ResolvedPrompt(record, self.root / record.file, lang != language)
        return None

    def records(self) -> list[PromptRecord]:
        return list(self._records.values())

    def status(self, prompt_id: str, language: str) -> CoverageStatus:
        """Recorded by a person, synthetic only, or missing, in exactly this language (no fallback)."""
        if (language, prompt_id, False) in self._records:
            return CoverageStatus.HUMAN
        if (language, prompt_id, True) in self._records:
            return CoverageStatus.SYNTHETIC
        return CoverageStatus.MISSING


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    previous = {r.prompt_id: r for r in _read_manifest(root / SYNTHETIC_MANIFEST) if r.language == "vi"}
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
            sha256=_sha256(root / rel),
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


def transcode(source: Path, fmt: AudioFormat, cache_dir: Path) -> Path:
    """Convert once per (recording content, format); later requests read the cached file."""
    container, params, rate, _media, suffix = _FORMATS[fmt]
    key = f"{_sha256(source)[:32]}-{fmt.value}.{suffix}"
    target = cache_dir / key
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # One transcode per key in this process; across processes sharing the folder the first
    # file published wins (link, not rename, never replaces it). Opus output differs run to
    # run (random Ogg serial), and the ETag promises the same bytes for the same name.
    with _transcode_lock(key):
        if target.is_file():
            return target
        fd, scratch = tempfile.mkstemp(prefix=f".{key}.", dir=cache_dir)
        os.close(fd)
        tmp = Path(scratch)
        try:
            segment = AudioSegment.from_file(source).set_channels(1).set_frame_rate(rate).set_sample_width(2)
            segment.export(tmp, format=container, parameters=params)
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links: rename, last writer wins
                tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


_transcode_locks: dict[str, threading.Lock] = {}
_transcode_locks_guard = threading.Lock()


def _transcode_lock(key: str) -> threading.Lock:
    with _transcode_locks_guard:
        return _transcode_locks.setdefault(key, threading.Lock())


class CoverageStatus(StrEnum):
    HUMAN = "human"
    SYNTHETIC = "synthetic"
    MISSING = "missing"


@dataclass(frozen=True)
class CoverageRow:
    prompt_id: str
    code: str
    name: str
    essential: bool
    text_vi: str
    status: dict[str, CoverageStatus]


def coverage_rows(
    catalogue: PromptCatalogue, corpus: Corpus, languages: list[str], tile_names: Mapping[str, str] | None = None
) -> list[CoverageRow]:
    """Recording status of every prompt in each language (no fallback): essential first.

    Answers and titles of essential procedures, system prompts, tile names and language names
    count as essential; `FIRST_TO_RECORD` comes before everything.
    """
    by_prompt = {p.prompt_id: p for p in corpus.procedures}
    by_title = {title_prompt_id(p.prompt_id): p for p in corpus.procedures}
    rows = []
    for pid, (kind, text) in prompt_texts(corpus, catalogue.registry, tile_names).items():
        proc = by_prompt.get(pid) or by_title.get(pid)
        code, name, essential = (proc.code, proc.name, proc.essential) if proc else ("", kind.value, True)
        rows.append(
            CoverageRow(pid, code, name, essential, text, {lang: catalogue.status(pid, lang) for lang in languages})
        )
    return sorted(
        rows, key=lambda r: (r.prompt_id not in FIRST_TO_RECORD, not r.essential, r.code == "", r.code, r.prompt_id)
    )


def coverage_summary(rows: list[CoverageRow], languages: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """{language: {"all"|"essential": {human, synthetic, missing}}}."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for lang in languages:
        groups: dict[str, dict[str, int]] = {g: {s.value: 0 for s in CoverageStatus} for g in ("all", "essential")}
        for row in rows:
            groups["all"][row.status[lang].value] += 1
            if row.essential:
                groups["essential"][row.status[lang].value] += 1
        out[lang] = groups
    return out
