"""The loaded state a request needs: corpus, matcher, transcriber, and the thresholds."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from service.answers.languages import LanguageRegistry, load_registry
from service.answers.prompts import PromptCatalogue
from service.answers.tiles import LifeEvent, load_life_events
from service.config import Settings
from service.corpus import Corpus, load_corpus
from service.matching.embedding import Embedder, load_embedder
from service.matching.lexicon import load_lexicon
from service.matching.matcher import Matcher, SearchResult, procedure_phrases
from service.matching.referrals import ReferralIndex, load_referrals
from service.speech.asr import (
    EngineUnavailableError,
    Transcriber,
    Transcript,
    VietAsrTranscriber,
    VoskTranscriber,
    WhisperTranscriber,
    build_grammar,
    vosk_vocabulary,
)
from service.speech.audio import decode_audio
from service.threads import limit_native_threads

log = logging.getLogger(__name__)


def build_matcher(settings: Settings, corpus: Corpus, embedder: Embedder | None = None) -> Matcher:
    """`embedder`: the already loaded model, when only the corpus changed.

    A new model loads on a thread of its own while the lexical indexes are built: loading is
    native code that releases the GIL (~1 s of warm start-up, docs/performance.md).
    """
    limit_native_threads(settings.blas_threads)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder-loader") as pool:
        model: Embedder | Future[Embedder] | None = embedder
        if settings.use_embeddings and embedder is None:
            model = pool.submit(
                load_embedder,
                settings.models_dir / settings.embedding_model,
                settings.embedding_backend,
                settings.embedding_threads,
                settings.embedding_batch_size,
            )
        matcher = Matcher(
            corpus,
            model if settings.use_embeddings else None,
            settings.data_dir / "cache",
            lexicon=load_lexicon(settings.lexicon_path),
            restore_accents=settings.restore_accents,
            preferred_codes=tuple(settings.preferred_codes),
            fuzzy_workers=settings.fuzzy_threads,
            referrals=ReferralIndex(load_referrals(settings.referrals_file)) if settings.refer_elsewhere else None,
        )
    limit_native_threads(settings.blas_threads)  # again: building loaded more native libraries
    return matcher


def _model_path(settings: Settings, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else settings.models_dir / path


def build_transcriber(settings: Settings, corpus: Corpus) -> Transcriber | None:
    """The configured engine; "auto" is viet-asr, or Whisper where viet-asr cannot load.

    Only the chosen engine is loaded: Whisper costs ~300 MB that a viet-asr service never uses.
    """
    engine = settings.asr_engine
    if engine == "none":
        return None
    if engine in ("auto", "vietasr"):
        try:
            return VietAsrTranscriber(level_dbfs=settings.vietasr_level_dbfs)
        except EngineUnavailableError as exc:
            if engine == "vietasr":
                raise
            log.warning("viet-asr is unavailable (%s); using Whisper", exc)
    vosk_dir = _model_path(settings, settings.vosk_model)
    if engine == "vosk":
        grammar = None
        if settings.vosk_grammar:
            phrases = [ph for p in corpus.procedures for ph in procedure_phrases(p)]
            grammar = build_grammar(phrases, vosk_vocabulary(vosk_dir))
        return VoskTranscriber(vosk_dir, grammar=grammar)
    return WhisperTranscriber(
        _model_path(settings, settings.whisper_model),
        threads=settings.asr_threads,
        beam_size=settings.whisper_beam_size,
    )


@dataclass
class Lookup:
    """Holds the corpus at once and the matcher once its models are loaded."""

    settings: Settings
    corpus: Corpus
    languages: LanguageRegistry
    prompts: PromptCatalogue
    life_events: tuple[LifeEvent, ...] = ()
    matcher: Matcher | None = None
    transcriber: Transcriber | None = None
    speech_error: str | None = None
    load_error: str | None = None
    load_seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Lookup:
        """Validate the corpus and languages now (fail fast on bad files); models load later."""
        languages = load_registry(settings.languages_file, settings.languages)
        corpus = load_corpus(settings.corpus_path)
        return cls(
            settings=settings,
            corpus=corpus,
            languages=languages,
            prompts=PromptCatalogue(settings.prompts_dir, languages),
            life_events=load_life_events(settings.life_events_file, corpus),
        )

    def load_models(self) -> None:
        """The speech engine loads beside the matcher: its loading is native and GIL-free."""
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-loader") as pool:
            speech = pool.submit(build_transcriber, self.settings, self.corpus)
            try:
                matcher = build_matcher(self.settings, self.corpus)
            except Exception as exc:  # reported through /readyz, never as a crash loop
                log.exception("model loading failed")
                self.load_error = str(exc)
                return
            transcriber = None
            try:
                transcriber = speech.result()
            except (EngineUnavailableError, OSError, RuntimeError) as exc:  # text lookup still works
                log.warning("speech recognition unavailable: %s", exc)
                self.speech_error = str(exc)
        limit_native_threads(self.settings.blas_threads)  # the engine may have loaded more libraries
        with self._lock:
            self.matcher = matcher
            self.transcriber = transcriber
            self.load_seconds = time.perf_counter() - t0
        log.info("models loaded in %.1f s", self.load_seconds)

    def reload(self) -> bool:
        """Pick up an edited corpus and prompt manifests without stopping (True if the corpus changed).

        The new matcher is built aside while requests use the old one, then swapped in: the
        corpus first, so a request that sees the new matcher also sees every code it returns.
        An invalid corpus raises InvalidCorpusError and the old one keeps serving.
        """
        corpus = load_corpus(self.settings.corpus_path)
        prompts = PromptCatalogue(self.settings.prompts_dir, self.languages)
        life_events = load_life_events(self.settings.life_events_file, corpus)
        changed = corpus.sha256 != self.corpus.sha256
        matcher = self.matcher
        if changed and self.matcher is not None:
            embedder = self.matcher.embedding.embedder if self.matcher.embedding else None
            matcher = build_matcher(self.settings, corpus, embedder)
        with self._lock:
            self.corpus = corpus
            self.matcher = matcher
            self.prompts = prompts
            self.life_events = life_events
        if changed:
            log.info("corpus reloaded: %d procedures, sha256 %s", len(corpus.procedures), corpus.sha256[:12])
        return changed

    def reload_prompts(self) -> None:
        """Pick up a recording just stored or undone (the catalogue is read aside, swapped under the lock)."""
        prompts = PromptCatalogue(self.settings.prompts_dir, self.languages)
        with self._lock:
            self.prompts = prompts

    @property
    def ready(self) -> bool:
        return self.matcher is not None

    def transcribe_upload(self, data: bytes, content_type: str | None, sample_rate: int | None) -> Transcript:
        """Decode and transcribe one upload (blocking: run it off the event loop)."""
        if self.transcriber is None:
            raise RuntimeError("speech recognition is not loaded")
        s = self.settings
        pcm = decode_audio(
            data,
            content_type,
            target_rate=self.transcriber.sample_rate,
            raw_rate=sample_rate,
            max_bytes=s.max_audio_bytes,
            max_seconds=s.max_audio_seconds,
            timeout_s=s.decode_timeout_seconds,
        )
        return self.transcriber.transcribe(pcm)

    def search(self, text: str, limit: int) -> SearchResult:
        if self.matcher is None:
            raise RuntimeError("not ready")
        s = self.settings
        return self.matcher.search(
            text,
            limit=limit,
            answer_min=s.answer_min_confidence,
            clarify_min=s.clarify_min_confidence,
            clarify_max=s.clarify_max_candidates,
        )
