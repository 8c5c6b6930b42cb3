"""Download the official Vietnamese Vosk models, verify them, install them whole.

Production machines fetch `vosk-model-small-vn-0.4` (32 MB) or `vosk-model-vn-0.4` (78 MB)
from alphacephei once, at build time. The archive must match a SHA-256 pinned by the
operator (`--sha256` or `TTHC_VOSK_SHA256`): a mirror or proxy serving something else is
refused before a single file is unpacked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from service.offline.model_prepare import make_readable

log = logging.getLogger(__name__)

OFFICIAL_BASE_URL = "https://alphacephei.com/vosk/models/"


@dataclass(frozen=True)
class RemoteModel:
    name: str
    size_text: str

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + f"/{self.name}.zip"


VOSK_VN_SMALL = RemoteModel("vosk-model-small-vn-0.4", "32 MB")
VOSK_VN_LARGE = RemoteModel("vosk-model-vn-0.4", "78 MB")


class FetchError(RuntimeError):
    pass


class ChecksumMismatchError(FetchError):
    pass


def _download(url: str, dest: Path, timeout: float) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code != 200:
            raise FetchError(f"{url}: HTTP {response.status_code}")
        with dest.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()


def _safe_extract(archive: Path, into: Path) -> None:
    """Unzip refusing absolute paths and '..' members (a hostile archive cannot escape)."""
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            path = PurePosixPath(member.filename)
            if path.is_absolute() or ".." in path.parts:
                raise FetchError(f"archive member escapes the target folder: {member.filename}")
        zf.extractall(into)


def _model_root(unpacked: Path) -> Path:
    """The folder holding am/ and conf/: the archive's single top folder, or the archive root."""
    candidates = [unpacked, *[p for p in unpacked.iterdir() if p.is_dir()]]
    for candidate in candidates:
        if (candidate / "am").is_dir() and (candidate / "conf").is_dir():
            return candidate
    raise FetchError("the archive does not contain a Vosk model (no am/ and conf/ folders)")


def fetch_vosk_model(
    model: RemoteModel,
    models_dir: Path,
    expected_sha256: str | None,
    base_url: str = OFFICIAL_BASE_URL,
    timeout: float = 120.0,
) -> Path:
    """Download, verify and install `model` as models_dir/<name>.

    Everything happens in a scratch folder beside the target; the finished model is moved in
    with renames, so a reader never sees a half-unpacked model.
    """
    if not expected_sha256:
        raise FetchError(
            f"no SHA-256 pinned for {model.name}: pass --sha256 (from a trusted copy) or set TTHC_VOSK_SHA256"
        )
    expected = expected_sha256.strip().lower()
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".fetch-{model.name}-", dir=models_dir))
    try:
        archive = work / f"{model.name}.zip"
        url = model.url(base_url)
        log.info("downloading %s (%s)", url, model.size_text)
        actual = _download(url, archive, timeout)
        if actual != expected:
            raise ChecksumMismatchError(f"{url}: SHA-256 {actual} does not match the pinned {expected}; refused")
        unpacked = work / "unpacked"
        try:
            _safe_extract(archive, unpacked)
        except zipfile.BadZipFile as exc:
            raise FetchError(f"{url}: not a zip archive") from exc
        root = _model_root(unpacked)
        make_readable(root)  # the service runs as its own user
        target = models_dir / model.name
        old = models_dir / f".{model.name}.old"
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.replace(target, old)
        os.replace(root, target)
        shutil.rmtree(old, ignore_errors=True)
        (target / "SOURCE_SHA256").write_text(actual + "\n")
        log.info("installed %s at %s", model.name, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
