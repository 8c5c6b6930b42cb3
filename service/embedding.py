"""Semantic scorer: multilingual-e5-small through sentence-transformers, with a disk cache.

Corpus embeddings are cached under the data dir, keyed by the hash of the phrases and of the
model's weights, so a restart with an unchanged corpus skips the slow encoding step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


class EmbeddingModelMissingError(RuntimeError):
    pass


def model_fingerprint(model_dir: Path) -> str:
    stamp = model_dir / "SOURCE_SHA256"
    if stamp.is_file():
        return hashlib.sha256(stamp.read_bytes()).hexdigest()[:16]
    weights = model_dir / "model.safetensors"
    st = weights.stat()
    return hashlib.sha256(f"{weights}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


class Embedder:
    """Thin wrapper that applies e5's query/passage prefixes and L2-normalises."""

    def __init__(self, model_dir: Path, batch_size: int = 64) -> None:
        if not (model_dir / "modules.json").is_file():
            raise EmbeddingModelMissingError(
                f"embedding model not found in {model_dir}; run `tthc-voice models prepare`"
            )
        from sentence_transformers import SentenceTransformer

        self.model_dir = model_dir
        self.fingerprint = model_fingerprint(model_dir)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([QUERY_PREFIX + t for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([PASSAGE_PREFIX + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _previous_vectors(cache_dir: Path, fingerprint: str) -> dict[str, np.ndarray]:
    """Vectors of the newest earlier cache for this model, by phrase (reused after a corpus edit)."""
    caches = sorted(cache_dir.glob(f"emb-{fingerprint}-*.phrases.json"), key=lambda p: p.stat().st_mtime)
    for phrases_path in reversed(caches):
        vectors_path = phrases_path.with_name(phrases_path.name.removesuffix(".phrases.json") + ".npy")
        try:
            phrases = json.loads(phrases_path.read_text(encoding="utf-8"))
            vectors = np.asarray(np.load(vectors_path), dtype=np.float32)
        except (OSError, ValueError):
            continue
        if len(phrases) == vectors.shape[0]:
            return dict(zip(phrases, vectors, strict=True))
    return {}


def cached_passage_embeddings(embedder: Embedder, passages: list[str], cache_dir: Path) -> np.ndarray:
    """Encode passages once per (phrases, model) pair; later starts read the .npy file.

    After a corpus edit only the new phrases are encoded: the rest come from the previous cache.
    """
    digest = hashlib.sha256("\n".join(passages).encode()).hexdigest()[:24]
    path = cache_dir / f"emb-{embedder.fingerprint}-{digest}.npy"
    if path.is_file():
        try:
            cached = np.asarray(np.load(path), dtype=np.float32)
            if cached.shape[0] == len(passages):
                log.info("loaded %d cached embeddings from %s", len(passages), path)
                return cached
        except (OSError, ValueError):
            log.warning("ignoring unreadable embedding cache %s", path)
    known = _previous_vectors(cache_dir, embedder.fingerprint) if cache_dir.is_dir() else {}
    missing = [p for p in dict.fromkeys(passages) if p not in known]
    log.info(
        "encoding %d of %d passages (%d from an earlier cache)",
        len(missing),
        len(passages),
        len(passages) - len(missing),
    )
    if missing:
        known.update(zip(missing, embedder.encode_passages(missing), strict=True))
    vectors = np.stack([known[p] for p in passages]).astype(np.float32) if passages else np.zeros((0, 0), np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    phrases_path = path.with_name(path.stem + ".phrases.json")
    phrases_tmp = phrases_path.with_suffix(".tmp")
    phrases_tmp.write_text(json.dumps(passages, ensure_ascii=False), encoding="utf-8")
    phrases_tmp.replace(phrases_path)
    return vectors


class EmbeddingScorer:
    """Max cosine between the query and any phrase of each procedure."""

    def __init__(self, embedder: Embedder, vectors: np.ndarray, owners: np.ndarray, n_procedures: int) -> None:
        self.embedder = embedder
        self._vectors = vectors
        self._owners = owners
        self._n = n_procedures
        self._query_vector = lru_cache(maxsize=2048)(self._encode_query)

    def _encode_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.encode_queries([text])[0]
        return vector

    def scores(self, accented_query: str) -> np.ndarray:
        q = self._query_vector(accented_query)
        sims = self._vectors @ q
        out = np.full(self._n, -1.0, dtype=np.float32)
        np.maximum.at(out, self._owners, sims)
        return out
