"""Offline speech recognition: one `Transcriber` interface, viet-asr, Vosk and faster-whisper behind it.

viet-asr is the default: a Vietnamese streaming CTC model embedded in its PyPI wheel, far
more accurate on real Vietnamese speech than Whisper base (docs/speech.md). Vosk is for a
province that installs the official Vietnamese Vosk model; Whisper base is the fallback.
Models load once and are shared; viet-asr and Vosk get a session per request or stream,
Whisper is re-entrant.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from service.speech.audio import Pcm, normalise_level, rate_from_mfcc_conf, voiced_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Transcript:
    text: str
    engine: str
    confidence: float
    duration_s: float
    elapsed_s: float
    words: list[Word] = field(default_factory=list)
    voiced_s: float | None = None  # seconds at speech level in what the engine decoded; None: not measured

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.duration_s if self.duration_s else 0.0

    def too_little(self, voiced_seconds_for_one_word: float) -> bool:
        """Nothing or one syllable out of seconds of speech: the engine lost the question.

        Matching one stray syllable ("sinh", "đất") gives a confident wrong answer, so the
        turn asks the caller to say it again instead (docs/speech.md has the measurement).
        """
        lost = self.voiced_s is not None and self.voiced_s >= voiced_seconds_for_one_word
        return lost and len(self.text.split()) <= 1


class Transcriber(Protocol):
    name: str
    sample_rate: int

    def transcribe(self, pcm: Pcm) -> Transcript: ...


class EngineUnavailableError(RuntimeError):
    pass


# ---------------------------------------------------------------- Whisper

WHISPER_DIRNAME = "whisper-base-ct2"
_REPEAT = re.compile(r"\b(\w+(?:\s+\w+){0,5}?)(?:[\s,.;:!?]+\1\b){2,}[,.;:!?]?", re.UNICODE)


def collapse_repetitions(text: str) -> str:
    """Whisper sometimes loops ("khai sinh khai sinh khai sinh ..."): keep one copy."""
    previous = None
    while previous != text:
        previous = text
        text = _REPEAT.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


class WhisperTranscriber:
    name = "whisper"
    sample_rate = 16000

    def __init__(self, model_dir: Path, threads: int = 2, beam_size: int = 1) -> None:
        if not (model_dir / "model.bin").is_file():
            raise EngineUnavailableError(f"Whisper model not found in {model_dir}; run `tthc-voice models prepare`")
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        self._beam_size = beam_size

    def transcribe(self, pcm: Pcm, hint: str | None = None) -> Transcript:
        if pcm.sample_rate != self.sample_rate:
            raise ValueError("Whisper needs 16 kHz audio")
        t0 = time.perf_counter()
        segments, _info = self._model.transcribe(
            pcm.as_float(),
            language="vi",
            task="transcribe",
            beam_size=self._beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            compression_ratio_threshold=2.4,  # rejects looping output
            no_speech_threshold=0.6,
            initial_prompt=hint,
            word_timestamps=False,
            vad_filter=False,
        )
        texts, logprobs = [], []
        for seg in segments:
            texts.append(seg.text.strip())
            logprobs.append(seg.avg_logprob)
        text = collapse_repetitions(" ".join(t for t in texts if t))
        confidence = float(math.exp(float(np.mean(logprobs)))) if logprobs else 0.0
        voiced = voiced_seconds(pcm.samples, pcm.sample_rate)
        return Transcript(text, self.name, confidence, pcm.duration_s, time.perf_counter() - t0, voiced_s=voiced)


# ---------------------------------------------------------------- viet-asr

VIETASR_PRESET = "transcribe"  # the embedded CTC model alone: no VAD, punctuation or ITN modules
_VIETASR_LOG_WARNINGS = 2


class VietAsrTranscriber:
    """viet-asr's embedded model through its C library (ONNX Runtime); no file, no download.

    The model comes out of the wheel itself; `vietasr_ensure_models`, the only call that
    would fetch anything, is never made. Each request or stream gets its own session, so
    sessions share nothing but the read-only model, and decoding releases the GIL.
    It gives text only: no word timings or confidences.
    """

    name = "vietasr"
    sample_rate = 16000

    def __init__(self, level_dbfs: float | None = -20.0) -> None:
        self._level_dbfs = level_dbfs
        try:
            import vietasr
            from vietasr.ffi import native
        except (ImportError, OSError) as exc:
            raise EngineUnavailableError(f"viet-asr cannot be loaded: {exc}") from exc
        native.lib.vietasr_set_log_level(_VIETASR_LOG_WARNINGS)
        try:
            self._pipeline = vietasr.Pipeline.preset(VIETASR_PRESET)
        except RuntimeError as exc:
            raise EngineUnavailableError(f"viet-asr preset {VIETASR_PRESET!r} failed: {exc}") from exc

    def session(self, sample_rate: int) -> Any:
        """A streaming session at the client's rate (8 kHz telephone audio is taken as it is)."""
        return self._pipeline.stream(sample_rate=float(sample_rate))

    def transcribe(self, pcm: Pcm) -> Transcript:
        t0 = time.perf_counter()
        samples = np.ascontiguousarray(pcm.samples, dtype=np.int16)
        voiced = voiced_seconds(samples, pcm.sample_rate)
        if self._level_dbfs is not None:  # quiet recordings come back empty without it (docs/speech.md)
            samples = normalise_level(samples, self._level_dbfs)
        with self.session(pcm.sample_rate) as session:
            session.accept(samples)
            text = " ".join(session.final().text.split())  # segments come back one per line
        return Transcript(text, self.name, 0.0, pcm.duration_s, time.perf_counter() - t0, voiced_s=voiced)


# ---------------------------------------------------------------- Vosk


def vosk_model_rate(model_dir: Path) -> int:
    conf = model_dir / "conf" / "mfcc.conf"
    return rate_from_mfcc_conf(conf.read_text()) if conf.is_file() else 16000


def vosk_vocabulary(model_dir: Path) -> set[str] | None:
    """Words the model knows (graph/words.txt), or None where the model does not ship it."""
    words = model_dir / "graph" / "words.txt"
    if not words.is_file():
        return None
    return {line.split()[0] for line in words.read_text(encoding="utf-8").splitlines() if line.strip()}


def build_grammar(phrases: list[str], vocabulary: set[str] | None) -> list[str]:
    """Phrase list for a Vosk grammar: only words the model knows, always with "[unk]".

    Grammar mode returns a wrong phrase with full confidence when speech is outside it, so
    "[unk]" must stay in to let free speech through (see docs on the Vosk integration).
    """
    out: list[str] = []
    seen: set[str] = set()
    for phrase in phrases:
        words = phrase.lower().split()
        if vocabulary is not None:
            words = [w for w in words if w in vocabulary]
        text = " ".join(words)
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    out.append("[unk]")
    return out


class VoskTranscriber:
    name = "vosk"

    def __init__(self, model_dir: Path, grammar: list[str] | None = None) -> None:
        if not (model_dir / "am").is_dir() and not (model_dir / "final.mdl").is_file():
            raise EngineUnavailableError(f"no Vosk model in {model_dir}")
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model_dir = model_dir
        self.model = vosk.Model(str(model_dir))
        self.sample_rate = vosk_model_rate(model_dir)
        self.grammar = grammar

    def recognizer(self, grammar: list[str] | None = None) -> Any:
        phrases = grammar if grammar is not None else self.grammar
        if phrases:
            rec = self._vosk.KaldiRecognizer(self.model, self.sample_rate, json.dumps(phrases, ensure_ascii=False))
        else:
            rec = self._vosk.KaldiRecognizer(self.model, self.sample_rate)
        rec.SetWords(True)
        return rec

    def transcribe(self, pcm: Pcm, grammar: list[str] | None = None) -> Transcript:
        if pcm.sample_rate != self.sample_rate:
            raise ValueError(f"this Vosk model needs {self.sample_rate} Hz audio")
        t0 = time.perf_counter()
        rec = self.recognizer(grammar)
        data = pcm.to_bytes()
        chunk = self.sample_rate // 5 * 2  # 200 ms frames, as telephony clients send
        results: list[dict[str, Any]] = []
        for start in range(0, len(data), chunk):
            if rec.AcceptWaveform(data[start : start + chunk]):
                results.append(json.loads(rec.Result()))
        results.append(json.loads(rec.FinalResult()))
        words = [
            Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
            for r in results
            for w in r.get("result", [])
        ]
        text = " ".join(r.get("text", "") for r in results if r.get("text")).strip()
        confidence = float(np.mean([w.conf for w in words])) if words else 0.0
        voiced = voiced_seconds(pcm.samples, pcm.sample_rate)
        return Transcript(text, self.name, confidence, pcm.duration_s, time.perf_counter() - t0, words, voiced)
