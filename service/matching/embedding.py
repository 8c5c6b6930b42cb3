"""Semantic scorer: multilingual-e5-small, int8 ONNX (default) or sentence-transformers, with a disk cache.

The int8 ONNX export (`tthc-voice models prepare`) encodes a question in ~5 ms on one core
against ~25 ms for sentence-transformers on two, and keeps torch out of the serving process
(docs/performance.md). Corpus embeddings are cached under the data dir, keyed by the hash of
the phrases and of the model, so a restart with an unchanged corpus skips the encoding step.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import re
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from service.matching.owners import PhraseOwners

log = logging.getLogger(__name__)

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
ONNX_FILE = Path("onnx") / "model_qint8.onnx"
SENTENCEPIECE_FILE = Path("onnx") / "sentencepiece.model"
MAX_TOKENS = 512
_LINE_BREAKS = re.compile(r"[\t\n\r\f\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b-\u200f]")
_SPACES = re.compile(" {2,}")


class EmbeddingModelMissingError(RuntimeError):
    pass


def model_fingerprint(model_dir: Path) -> str:
    stamp = model_dir / "SOURCE_SHA256"
    if stamp.is_file():
        return hashlib.sha256(stamp.read_bytes()).hexdigest()[:16]
    weights = model_dir / "model.safetensors"
    st = weights.stat()
    return hashlib.sha256(f"{weights}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def spm_normalize(text: str) -> str:
    """tokenizer.json's normaliser, step for step: what the SentencePiece model expects."""
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text))
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text))


def _nfkc(texts: list[str]) -> list[str]:
    # e5's SentencePiece vocabulary is NFKC; transformers' XLM-R tokenizer no longer applies
    # it, so text in decomposed form (some keyboards, 41 corpus phrases) became other tokens.
    return [unicodedata.normalize("NFKC", t) for t in texts]


class Embedder(Protocol):
    """Encodes e5 queries and passages into L2-normalised float32 rows."""

    fingerprint: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def _onnx_session(path: Path, threads: int, arena: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = arena
    # Spinning workers would hold a core between questions that speech decoding needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _release_freed_memory() -> None:
    """Hand the heap that batch encoding used back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class OnnxEmbedder:
    """e5 through onnxruntime: mean pooling over the int8 graph's last hidden state.

    Questions go through one long-lived session on `threads` cores. Passages (thousands at
    start-up or reload) get a session of their own on every core, without onnxruntime's
    memory arena, dropped when done: the arena would otherwise keep ~800 MB of batch
    buffers for the life of the service.
    """

    def __init__(self, model_dir: Path, threads: int = 1, batch_size: int = 16) -> None:
        self._path = model_dir / ONNX_FILE
        for needed in (self._path, model_dir / SENTENCEPIECE_FILE):
            if not needed.is_file():
                raise EmbeddingModelMissingError(f"{needed} not found; run `tthc-voice models prepare`")
        import sentencepiece

        self._session = _onnx_session(self._path, threads, arena=True)
        self._pieces = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / SENTENCEPIECE_FILE))
        self._bos, self._eos, self._pad = self._pieces.bos_id(), self._pieces.eos_id(), self._pieces.pad_id()
        self.threads = threads
        self.batch_size = batch_size
        self.fingerprint = hashlib.sha256(f"{model_fingerprint(model_dir)}:onnx-qint8".encode()).hexdigest()[:16]

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        session = _onnx_session(self._path, len(os.sched_getaffinity(0)), arena=False)  # the cores we may use
        try:
            return self._run(session, [PASSAGE_PREFIX + t for t in texts])
        finally:
            del session
            _release_freed_memory()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._run(self._session, [QUERY_PREFIX + t for t in texts])

    def token_ids(self, text: str) -> list[int]:
        """`<s> pieces </s>`, cut to the model's 512 positions as tokenizer.json does."""
        pieces: list[int] = self._pieces.encode(spm_normalize(text))
        return [self._bos, *pieces[: MAX_TOKENS - 2], self._eos]

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        rows: list[np.ndarray] = []
        for start in range(0, len(order), self.batch_size):
            batch = [self.token_ids(texts[i]) for i in order[start : start + self.batch_size]]
            width = max(len(e) for e in batch)
            ids = np.full((len(batch), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, encoding in enumerate(batch):
                ids[row, : len(encoding)] = encoding
                mask[row, : len(encoding)] = 1
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            rows.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(rows)
        return out


class TorchEmbedder:
    """The same model through sentence-transformers and torch (reference and fallback)."""

    def __init__(self, model_dir: Path, threads: int = 1, batch_size: int = 16) -> None:
        if not (model_dir / "modules.json").is_file():
            raise EmbeddingModelMissingError(
                f"embedding model not found in {model_dir}; run `tthc-voice models prepare`"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model_dir = model_dir
        self.fingerprint = model_fingerprint(model_dir)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(_nfkc([QUERY_PREFIX + t for t in texts]))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(_nfkc([PASSAGE_PREFIX + t for t in texts]))

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


EmbeddingBackend = Literal["onnx", "torch"]


def load_embedder(model_dir: Path, backend: EmbeddingBackend, threads: int, batch_size: int) -> Embedder:
    if backend == "onnx":
        return OnnxEmbedder(model_dir, threads, batch_size)
    return TorchEmbedder(model_dir, threads, batch_size)


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
    """Max cosine between the query and any phrase of each procedure.

    `submit` encodes on a thread of its own, so a question's embedding runs beside the lexical
    scorers (both release the GIL): on two cores a new question costs the slower of the two,
    not their sum (docs/performance.md).
    """

    def __init__(self, embedder: Embedder, vectors: np.ndarray, owners: np.ndarray, n_procedures: int) -> None:
        self.embedder = embedder
        self._vectors = vectors
        self._owners = PhraseOwners(owners, n_procedures)
        self._query_vector = lru_cache(maxsize=2048)(self._encode_query)
        self._beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedding")

    def _encode_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.encode_queries([text])[0]
        return vector

    def submit(self, accented_query: str) -> Future[np.ndarray]:
        return self._beside.submit(self.scores, accented_query)

    def scores(self, accented_query: str) -> np.ndarray:
        q = self._query_vector(accented_query)
        return self._owners.best(self._vectors @ q, empty=-1.0)
