"""`models fetch vosk-vn` against a local HTTP server serving a fixture zip."""

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from service.cli import main
from service.offline.model_fetch import VOSK_VN_SMALL, ChecksumMismatchError, FetchError, fetch_vosk_model


def _fixture_zip(path: Path, top: str = "vosk-model-small-vn-0.4", evil: bool = False) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/am/final.mdl", b"acoustic model bytes")
        zf.writestr(f"{top}/conf/mfcc.conf", "--sample-frequency=16000\n")
        zf.writestr(f"{top}/graph/Gr.fst", b"grammar")
        if evil:
            zf.writestr("../../escape.txt", b"outside")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        httpd.shutdown()


def test_fetch_verifies_and_installs(server, tmp_path):
    base, root = server
    sha = _fixture_zip(root / "vosk-model-small-vn-0.4.zip")
    models = tmp_path / "models"
    target = fetch_vosk_model(VOSK_VN_SMALL, models, sha, base_url=base)
    assert target == models / "vosk-model-small-vn-0.4"
    assert (target / "am" / "final.mdl").read_bytes() == b"acoustic model bytes"
    assert (target / "SOURCE_SHA256").read_text().strip() == sha
    assert [p.name for p in models.iterdir()] == ["vosk-model-small-vn-0.4"]  # no scratch left behind
    # fetching again replaces the model whole
    (target / "am" / "stale").write_text("x")
    fetch_vosk_model(VOSK_VN_SMALL, models, sha.upper(), base_url=base)
    assert not (target / "am" / "stale").exists()


def test_bad_checksum_is_refused_and_nothing_is_installed(server, tmp_path):
    base, root = server
    _fixture_zip(root / "vosk-model-small-vn-0.4.zip")
    models = tmp_path / "models"
    with pytest.raises(ChecksumMismatchError, match="does not match"):
        fetch_vosk_model(VOSK_VN_SMALL, models, "0" * 64, base_url=base)
    assert list(models.iterdir()) == []


def test_missing_checksum_missing_file_and_hostile_archive(server, tmp_path):
    base, root = server
    with pytest.raises(FetchError, match="no SHA-256 pinned"):
        fetch_vosk_model(VOSK_VN_SMALL, tmp_path / "m", None, base_url=base)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_vosk_model(VOSK_VN_SMALL, tmp_path / "m", "0" * 64, base_url=base)
    sha = _fixture_zip(root / "vosk-model-small-vn-0.4.zip", evil=True)
    with pytest.raises(FetchError, match="escapes"):
        fetch_vosk_model(VOSK_VN_SMALL, tmp_path / "m", sha, base_url=base)
    assert not (tmp_path / "escape.txt").exists()
    (root / "vosk-model-small-vn-0.4.zip").write_bytes(b"not a zip")
    sha = hashlib.sha256(b"not a zip").hexdigest()
    with pytest.raises(FetchError, match="not a zip"):
        fetch_vosk_model(VOSK_VN_SMALL, tmp_path / "m", sha, base_url=base)


def test_cli_fetch(server, tmp_path, monkeypatch):
    base, root = server
    sha = _fixture_zip(root / "vosk-model-small-vn-0.4.zip")
    monkeypatch.setenv("TTHC_MODELS_DIR", str(tmp_path / "models"))
    from service.config import get_settings

    get_settings.cache_clear()
    try:
        assert main(["models", "fetch", "vosk-vn", "--sha256", "1" * 64, "--base-url", base]) == 1
        assert main(["models", "fetch", "vosk-vn", "--sha256", sha, "--base-url", base]) == 0
        assert (tmp_path / "models" / "vosk-model-small-vn-0.4" / "conf" / "mfcc.conf").is_file()
    finally:
        get_settings.cache_clear()
