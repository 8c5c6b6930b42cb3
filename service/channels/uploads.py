"""Audio sent over HTTP: a multipart field `audio` or the raw body, within the size limit."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from service.speech.audio import AudioTooLargeError


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
