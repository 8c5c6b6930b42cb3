"""HTTP side of speech input: reading uploads and keeping CPU-bound decoding off the loop."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from service.audio import AudioTooLargeError

T = TypeVar("T")


async def read_audio_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None]:
    """The audio bytes and their content type, from multipart field `audio` or the raw body."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise AudioTooLargeError(f"the upload is larger than {max_bytes} bytes")
    content_type = request.headers.get("content-type")
    if content_type and content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("audio")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, detail="multipart request needs a file field named 'audio'")
        data = await upload.read(max_bytes + 1)
        content_type = upload.content_type
    else:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise AudioTooLargeError(f"the upload is larger than {max_bytes} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
    if len(data) > max_bytes:
        raise AudioTooLargeError(f"the upload is larger than {max_bytes} bytes")
    return data, content_type


class SpeechGate:
    """At most `workers` decodes at once in threads; beyond `queue_limit` waiting, answer 503."""

    def __init__(self, workers: int, queue_limit: int) -> None:
        self._limiter = anyio.CapacityLimiter(workers)
        self._threads = anyio.CapacityLimiter(workers)
        self._queue_limit = queue_limit
        self._waiting = 0

    @property
    def busy(self) -> int:
        return int(self._limiter.borrowed_tokens) + self._waiting

    async def run(self, func: Callable[..., T], *args: object) -> T:
        if self._limiter.available_tokens == 0 and self._waiting >= self._queue_limit:
            raise HTTPException(503, detail="speech recognition is busy; retry in a few seconds")
        self._waiting += 1
        try:
            await self._limiter.acquire()
        finally:
            self._waiting -= 1
        try:
            return await anyio.to_thread.run_sync(partial(func, *args), limiter=self._threads)
        finally:
            self._limiter.release()
