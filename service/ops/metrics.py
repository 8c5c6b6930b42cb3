"""Prometheus metrics at /metrics: traffic, latency, recognition speed, decisions, load.

One registry per app (tests build many apps). One process per container: scale with
replicas, each scraped on its own, rather than with uvicorn workers sharing a port.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tthc_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "tthc_http_request_seconds", "HTTP request time", ["route"], buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.asr_rtf = Histogram(
            "tthc_asr_real_time_factor",
            "decoding time / audio time",
            ["engine"],
            buckets=RTF_BUCKETS,
            registry=self.registry,
        )
        self.asr_audio = Counter("tthc_asr_audio_seconds_total", "audio recognised", ["engine"], registry=self.registry)
        self.decisions = Counter(
            "tthc_decisions_total",
            "answers, clarifications, out of scope",
            ["channel", "decision"],
            registry=self.registry,
        )
        self.speech_queue = Gauge("tthc_speech_queue_depth", "decodes running or waiting", registry=self.registry)
        self.streams = Gauge("tthc_active_streams", "open WebSocket streams", registry=self.registry)
        self.calls = Gauge("tthc_active_calls", "AudioSocket calls in progress", registry=self.registry)

    def observe_asr(self, engine: str, audio_s: float, elapsed_s: float) -> None:
        if audio_s > 0:
            self.asr_rtf.labels(engine).observe(elapsed_s / audio_s)
            self.asr_audio.labels(engine).inc(audio_s)

    def observe_decision(self, channel: str, decision: str) -> None:
        self.decisions.labels(channel, decision).inc()

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4; charset=utf-8")


def http_middleware(metrics: Metrics) -> Callable[[Request, Callable[[Request], Awaitable[Any]]], Awaitable[Any]]:
    """Count and time every request under its route template (`/v1/procedures/{code}`), never raw paths."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            metrics.requests.labels(request.method, template, str(status)).inc()
            metrics.latency.labels(template).observe(time.perf_counter() - started)

    return middleware
