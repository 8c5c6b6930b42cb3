"""The loaded state a request needs: corpus, matcher and the thresholds that gate decisions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from service.config import Settings
from service.corpus import Corpus, load_corpus
from service.embedding import Embedder
from service.matcher import Matcher, SearchResult

log = logging.getLogger(__name__)


def build_matcher(settings: Settings, corpus: Corpus) -> Matcher:
    embedder = None
    if settings.use_embeddings:
        embedder = Embedder(settings.models_dir / settings.embedding_model, settings.embedding_batch_size)
    return Matcher(corpus, embedder, settings.data_dir / "cache")


@dataclass
class Lookup:
    """Holds the corpus at once and the matcher once its models are loaded."""

    settings: Settings
    corpus: Corpus
    matcher: Matcher | None = None
    load_error: str | None = None
    load_seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Lookup:
        """Validate the corpus now (fail fast on a bad file); models load later."""
        return cls(settings=settings, corpus=load_corpus(settings.corpus_path))

    def load_models(self) -> None:
        t0 = time.perf_counter()
        try:
            matcher = build_matcher(self.settings, self.corpus)
        except Exception as exc:  # reported through /readyz, never as a crash loop
            log.exception("model loading failed")
            self.load_error = str(exc)
            return
        with self._lock:
            self.matcher = matcher
            self.load_seconds = time.perf_counter() - t0
        log.info("models loaded in %.1f s", self.load_seconds)

    @property
    def ready(self) -> bool:
        return self.matcher is not None

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
