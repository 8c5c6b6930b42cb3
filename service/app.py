"""The FastAPI application: settings, shared state, middleware, error bodies and the routers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.channels.admin import admin_router
from service.channels.apidocs import api_docs_router
from service.channels.catalogue import catalogue_router
from service.channels.health import health_router
from service.channels.hotline.ivr import AudioSocketServer
from service.channels.kiosk import kiosk_router
from service.channels.pages import pages_router
from service.channels.prompt_api import prompts_router
from service.channels.questions import questions_router
from service.channels.schemas import ErrorBody
from service.channels.vxml import vxml_router
from service.config import Settings, get_settings
from service.lookup import Lookup
from service.ops.limits import BodyLimitMiddleware, BodyLimits
from service.ops.logs import request_id_middleware
from service.ops.metrics import Metrics, http_middleware
from service.ops.querylog import QueryLog, database_url
from service.ops.ratelimit import FailureBackoff, TokenBuckets, rate_limit_middleware
from service.reload import FileWatcher
from service.runtime import Runtime
from service.speech.audio import AudioError
from service.speech.gate import SpeechGate, StreamSlots

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, load_models_in_background: bool = True) -> FastAPI:
    settings = settings or get_settings()
    # Validate the corpus before serving anything: a bad file stops start-up with its report.
    lookup = Lookup.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_models_in_background:
            threading.Thread(target=lookup.load_models, name="model-loader", daemon=True).start()
        else:
            lookup.load_models()
        purger = asyncio.create_task(_purge_daily(runtime.query_log)) if runtime.query_log else None
        watcher = FileWatcher(lookup, settings.reload_check_seconds) if settings.reload_check_seconds else None
        if watcher is not None:
            watcher.start()
        hotline = None
        if settings.audiosocket_port is not None:
            hotline = AudioSocketServer(lookup, runtime.speech_gate, runtime.query_log, runtime.metrics)
            await hotline.start(settings.audiosocket_host, settings.audiosocket_port)
        runtime.hotline = hotline
        yield
        if hotline is not None:
            await hotline.stop()
        if purger is not None:
            purger.cancel()
        if watcher is not None:
            watcher.stop()
        if runtime.query_log is not None:
            runtime.query_log.close()

    app = FastAPI(
        title="tthc-voice",
        version="0.1.0",
        description="Offline lookup of Vietnamese administrative procedures for the commune one-stop desk.",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
        docs_url=None,  # served by api_docs_router from local files, not a CDN
        redoc_url=None,
    )
    query_log = (
        QueryLog(database_url(settings.database_url, settings.data_dir), settings.query_log_retention_days)
        if settings.query_log
        else None
    )
    runtime = Runtime(
        settings=settings,
        lookup=lookup,
        speech_gate=SpeechGate(settings.asr_workers, settings.asr_queue_limit),
        stream_slots=StreamSlots(settings.max_streams, settings.max_streams_per_client),
        admin_backoff=FailureBackoff(settings.admin_failures_allowed, settings.admin_lockout_max_seconds),
        metrics=Metrics(),
        query_log=query_log,
    )
    app.state.runtime = runtime  # the one attribute: everything else lives in the typed Runtime
    if settings.cors_origins:
        # Browsers on the province's portal call the API through the widget; nobody else may.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=3600,
        )
    metrics = runtime.metrics
    metrics.speech_queue.set_function(lambda: runtime.speech_gate.busy)
    metrics.streams.set_function(lambda: runtime.stream_slots.active)
    metrics.calls.set_function(lambda: runtime.hotline.active_calls if runtime.hotline else 0)
    limits = BodyLimits(
        default=settings.max_body_bytes,
        audio=settings.max_audio_bytes,
        prompt_upload=settings.max_prompt_upload_bytes,
        read_timeout_s=settings.body_read_timeout_seconds,
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    if settings.rate_limit_per_minute:
        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.middleware("http")(rate_limit_middleware(buckets, settings.trusted_proxies))
    app.middleware("http")(http_middleware(metrics))
    app.middleware("http")(request_id_middleware())  # outermost: every log line of a request has its id
    _install_error_handlers(app)
    for router in (health_router(), questions_router(), catalogue_router(), prompts_router(), admin_router()):
        app.include_router(router)
    app.include_router(vxml_router())
    app.include_router(pages_router())
    app.include_router(kiosk_router())
    app.include_router(api_docs_router())
    return app


async def _purge_daily(query_log: QueryLog) -> None:
    """Retention: old questions go at start-up and then once a day."""
    while True:
        try:
            await anyio.to_thread.run_sync(query_log.purge)
        except Exception:
            log.exception("query log purge failed")
        await asyncio.sleep(24 * 3600)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"error": "invalid request", "detail": problems})

    @app.exception_handler(AudioError)
    async def _bad_audio(_: Request, exc: AudioError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": exc.message})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail)}, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"error": "internal error"})
