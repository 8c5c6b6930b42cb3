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

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

LIMITED_PREFIXES = ("/v1/search", "/v1/query", "/v1/ivr/", "/v1/admin/", "/admin/")
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


def client_key(request: HTTPConnection, trusted_proxies: list[str]) -> str:
    """The caller's address; X-Forwarded-For is believed only from a configured proxy (nginx)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted_proxies:
        return forwarded.split(",")[-1].strip() or peer
    return peer


class FailureBackoff:
    """Wrong admin keys: after `allowed` failures an address is locked out, 1 s, 2 s, 4 s, ...

    Guessing a key then takes centuries instead of hours. A success clears the address; a
    lockout is per address, so an official elsewhere is never locked out by someone else.
    """

    def __init__(self, allowed: int, max_lockout_s: float, forget_after_s: float = 3600.0) -> None:
        self.allowed = allowed
        self.max_lockout_s = max_lockout_s
        self.forget_after_s = forget_after_s
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (count, locked until)
        self._lock = threading.Lock()

    def locked_for(self, key: str, now: float | None = None) -> float:
        """Seconds this address must still wait (0: it may try)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, until = self._failures.get(key, (0, 0.0))
            if count and now - until > self.forget_after_s:
                del self._failures[key]
                return 0.0
            return max(0.0, until - now)

    def failed(self, key: str, now: float | None = None) -> float:
        """Record one wrong key; returns the lockout it starts (0 while under the allowance)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, _ = self._failures.pop(key, (0, 0.0))
            count += 1
            over = count - self.allowed
            lockout = min(self.max_lockout_s, 2.0 ** (over - 1)) if over > 0 else 0.0
            self._failures[key] = (count, now + lockout)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)
            return lockout

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


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
