"""How much speech work runs at once: decodes in worker threads, open streams per client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
from fastapi import HTTPException

T = TypeVar("T")


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

    async def run(self, func: Callable[..., T], *args: object, wait: bool = False) -> T:
        """`wait`: queue however long the line is (a caller on the phone, not an HTTP client)."""
        if not wait and self._limiter.available_tokens == 0 and self._waiting >= self._queue_limit:
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


class StreamSlots:
    """Open WebSocket streams, in all and per client address, so no one client holds them all."""

    def __init__(self, total: int, per_client: int) -> None:
        self._total = total
        self._per_client = per_client
        self._by_client: Counter[str] = Counter()

    @property
    def active(self) -> int:
        return sum(self._by_client.values())

    def acquire(self, client: str) -> str | None:
        """None when a slot was taken, else why not."""
        if self.active >= self._total:
            return "too many streams; retry shortly"
        if self._by_client[client] >= self._per_client:
            return f"this address already has {self._per_client} open streams; close one first"
        self._by_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self._by_client[client] -= 1
        if self._by_client[client] <= 0:
            del self._by_client[client]
