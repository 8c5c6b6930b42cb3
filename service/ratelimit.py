"""Per-client rate limit: a token bucket per address, refilled continuously.

A kiosk or a portal user asks a few questions a minute; a script hammering the service
gets 429 with Retry-After instead of starving the recogniser for everyone else. Only the
endpoints that cost CPU (search, recognition, admin uploads) are limited; pages, prompt
audio (cached files), health and metrics are not.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

LIMITED_PREFIXES = ("/v1/search", "/v1/query", "/v1/ivr/", "/v1/admin/")
MAX_CLIENTS = 100_000  # oldest buckets are forgotten beyond this, bounding memory


class TokenBuckets:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed (a token is spent), else seconds until the next token."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
            return wait


def client_key(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's address; X-Forwarded-For is believed only from a configured proxy (nginx)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted_proxies:
        return forwarded.split(",")[-1].strip() or peer
    return peer


def rate_limit_middleware(
    buckets: TokenBuckets, trusted_proxies: list[str]
) -> Callable[[Request, Callable[[Request], Awaitable[Any]]], Awaitable[Any]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        if not request.url.path.startswith(LIMITED_PREFIXES):
            return await call_next(request)
        wait = buckets.take(client_key(request, trusted_proxies))
        if wait > 0:
            return JSONResponse(
                status_code=429,
                content={"error": f"too many requests from this address; retry in {math.ceil(wait)} s"},
                headers={"Retry-After": str(math.ceil(wait))},
            )
        return await call_next(request)

    return middleware
