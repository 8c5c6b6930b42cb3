"""Request bodies bounded before they are read, and slow senders cut off.

A 100 MB JSON body used to be read whole into memory before validation said 422; eight at
once cost 2.4 GB. Here every path has a byte limit: a declared `Content-Length` above it is
refused with 413 without reading a byte, and a chunked body is counted as it arrives and
stopped at the limit. A client that stalls in the middle of its body for longer than the read
timeout gets 408. Limits and timeouts come from `Settings` (see docs/operations.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around an uploaded file


class BodyTooLargeError(HTTPException):
    """Raised inside the app while it reads the body; the HTTP error handler turns it into 413 JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"the request body is larger than {limit} bytes")


class BodyTimeoutError(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, detail=f"the request body stalled for more than {seconds:g} s")


@dataclass(frozen=True)
class BodyLimits:
    default: int  # JSON and everything not named below
    audio: int  # spoken questions (/v1/query, /v1/ivr/turn)
    prompt_upload: int  # admin prompt recordings
    read_timeout_s: float

    def for_path(self, path: str) -> int:
        if path.startswith(("/v1/query", "/v1/ivr/turn")):
            return self.audio + MULTIPART_SLACK
        if path.startswith("/v1/admin/prompts/"):
            return self.prompt_upload + MULTIPART_SLACK
        return self.default


def _json_error(status: int, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": message}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self._limits
        limit = limits.for_path(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        problem: tuple[int, str] | None = None
        if declared is not None:
            if not declared.isdigit():
                problem = (400, "Content-Length must be a whole number of bytes")
            elif int(declared) > limit:
                problem = (413, f"the request body is larger than {limit} bytes")
        if problem is not None:
            for message in _json_error(*problem):
                await send(message)
            return
        received, body_done = 0, False

        async def bounded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body only a disconnect can come: wait as long as it takes
                return await receive()
            try:
                with anyio.fail_after(limits.read_timeout_s):
                    message = await receive()
            except TimeoutError as exc:
                raise BodyTimeoutError(limits.read_timeout_s) from exc
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLargeError(limit)
            else:
                body_done = True
            return message

        await self.app(scope, bounded_receive, send)
