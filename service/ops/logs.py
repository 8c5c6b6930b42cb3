"""Structured logs: one JSON object per line, each tagged with the request id that caused it.

A request id comes from the caller's `X-Request-ID` (when it looks sane) or is made here; it
is echoed in the response so a citizen's complaint, a proxy log line and our log line meet.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

access = logging.getLogger("tthc.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes every few seconds: no access line
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(json_lines: bool, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the service and uvicorn's own loggers (access log included)."""
    formatter = (
        {"()": JsonFormatter}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }


def request_id_middleware() -> Callable[[Request, Callable[[Request], Awaitable[Any]]], Awaitable[Any]]:
    """Tag the request, echo the id, and write one access line carrying it."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        given = request.headers.get("x-request-id", "")
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await call_next(request)
            except Exception:  # caught here, not by the app's last-resort handler, so the 500 carries its id
                logging.getLogger("tthc-voice").exception("unhandled error")
                response = JSONResponse(status_code=500, content={"error": "internal error", "request_id": rid})
            status = response.status_code
            response.headers["X-Request-ID"] = rid
            return response
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            if request.url.path not in QUIET_PATHS or status >= 400:
                access.info("%s %s %d %.1f ms", request.method, request.url.path, status, elapsed_ms)
            request_id.reset(token)

    return middleware
