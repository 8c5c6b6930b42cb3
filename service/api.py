"""FastAPI application: typed search, procedure catalogue, health and readiness."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.apidocs import api_docs_router
from service.audio import AudioError
from service.config import Settings, get_settings
from service.corpus import InvalidCorpusError, Procedure
from service.deps import answer_audio, check_language, get_lookup, ready_lookup, require_admin
from service.insights import Insights, build_insights, csv_rows, render_html
from service.ivr import AudioSocketServer
from service.kiosk import kiosk_router
from service.limits import BodyLimitMiddleware, BodyLimits
from service.logs import request_id_middleware
from service.lookup import Lookup
from service.metrics import Metrics, http_middleware
from service.pages import pages_router
from service.params import Channel, ChannelQuery, LanguagePath, LanguageQuery, ProcedureCodePath, PromptIdPath
from service.prompts import (
    NOT_RECORDED_PROMPT,
    AudioFormat,
    CoverageStatus,
    PromptCatalogue,
    PromptKind,
    coverage_rows,
    coverage_summary,
    language_prompt_id,
    media_type,
    prompt_texts,
    transcode,
)
from service.querylog import QueryLog, database_url, keep_audio
from service.ratelimit import FailureBackoff, TokenBuckets, rate_limit_middleware
from service.recordings import restore_previous, store_recording
from service.reload import FileWatcher
from service.schemas import (
    AnswerOut,
    ErrorBody,
    LanguageOut,
    ProcedureOut,
    ProcedureSummary,
    QueryResponse,
    SearchRequest,
    SearchResponse,
    query_response,
    search_response,
)
from service.speech import SpeechGate, StreamSlots, read_audio_upload, run_stream
from service.tiles import tile_names
from service.turn import record_turn, take_turn
from service.vxml import vxml_router

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
        purger = asyncio.create_task(_purge_daily(app.state.query_log)) if app.state.query_log else None
        watcher = FileWatcher(lookup, settings.reload_check_seconds) if settings.reload_check_seconds else None
        if watcher is not None:
            watcher.start()
        hotline = None
        if settings.audiosocket_port is not None:
            hotline = AudioSocketServer(lookup, app.state.speech_gate, app.state.query_log, app.state.metrics)
            await hotline.start(settings.audiosocket_host, settings.audiosocket_port)
        app.state.hotline = hotline
        yield
        if hotline is not None:
            await hotline.stop()
        if purger is not None:
            purger.cancel()
        if watcher is not None:
            watcher.stop()
        if app.state.query_log is not None:
            app.state.query_log.close()

    app = FastAPI(
        title="tthc-voice",
        version="0.1.0",
        description="Offline lookup of Vietnamese administrative procedures for the commune one-stop desk.",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
        docs_url=None,  # served by api_docs_router from local files, not a CDN
        redoc_url=None,
    )
    app.state.lookup = lookup
    app.state.settings = settings
    app.state.speech_gate = SpeechGate(settings.asr_workers, settings.asr_queue_limit)
    app.state.stream_slots = StreamSlots(settings.max_streams, settings.max_streams_per_client)
    app.state.admin_backoff = FailureBackoff(settings.admin_failures_allowed, settings.admin_lockout_max_seconds)
    app.state.draining = False  # set on SIGTERM: streams end after their current utterance
    app.state.hotline = None
    app.state.query_log = (
        QueryLog(database_url(settings.database_url, settings.data_dir), settings.query_log_retention_days)
        if settings.query_log
        else None
    )
    if settings.cors_origins:
        # Browsers on the province's portal call the API through the widget; nobody else may.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=3600,
        )
    metrics = Metrics()
    app.state.metrics = metrics
    metrics.speech_queue.set_function(lambda: app.state.speech_gate.busy)
    metrics.streams.set_function(lambda: app.state.stream_slots.active)
    metrics.calls.set_function(lambda: app.state.hotline.active_calls if app.state.hotline else 0)
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
    app.include_router(_routes())
    app.include_router(vxml_router())
    app.include_router(pages_router())
    app.include_router(kiosk_router())
    app.include_router(api_docs_router())
    return app


def _insights(request: Request, lookup: Lookup, weeks: int) -> Insights:
    query_log: QueryLog | None = request.app.state.query_log
    if query_log is None:
        raise HTTPException(404, detail="the query log is off (TTHC_QUERY_LOG=false)")
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    return build_insights(query_log.rows(since), lookup.corpus, lookup.prompts, weeks)


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


def _prompt_target(lookup: Lookup, language: str, prompt_id: str) -> tuple[PromptKind, str]:
    """Only known languages and prompt ids are writable (also keeps paths inside the folder)."""
    if lookup.languages.get(language) is None:
        raise HTTPException(404, detail=f"unknown language {language!r}")
    target = prompt_texts(lookup.corpus, lookup.languages, tile_names(lookup.life_events)).get(prompt_id)
    if target is None:
        raise HTTPException(404, detail=f"no procedure or system prompt with prompt_id {prompt_id!r}")
    return target


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def _coverage_html(summary: dict[str, dict[str, dict[str, int]]], lookup: Lookup) -> str:
    cells = []
    for code, groups in summary.items():
        lang = lookup.languages.get(code)
        name = html.escape(f"{lang.name_vi} ({lang.name_native})" if lang else code)
        for group in ("essential", "all"):
            g = groups[group]
            cells.append(
                f"<tr><td>{name}</td><td>{group}</td><td>{g['human']}</td>"
                f"<td>{g['synthetic']}</td><td>{g['missing']}</td></tr>"
            )
    return (
        "<!doctype html><html lang=vi><meta charset=utf-8><title>Ghi âm câu trả lời</title>"
        "<h1>Ghi âm câu trả lời theo ngôn ngữ</h1><table border=1 cellpadding=4>"
        "<tr><th>Ngôn ngữ</th><th>Nhóm</th><th>Người đọc</th><th>Giọng máy</th><th>Chưa có</th></tr>"
        + "".join(cells)
        + "</table></html>"
    )


def _routes() -> APIRouter:
    router = APIRouter()
    admin = [Depends(require_admin)]

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text format."""
        rendered: Response = request.app.state.metrics.render()
        return rendered

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"model": ErrorBody}})
    def readyz(request: Request, lookup: Annotated[Lookup, Depends(get_lookup)]) -> JSONResponse:
        body = {
            "ready": lookup.ready,
            "procedures": len(lookup.corpus.procedures),
            "corpus_sha256": lookup.corpus.sha256,
            "embeddings": bool(lookup.matcher and lookup.matcher.embedding),
            "asr_engine": lookup.transcriber.name if lookup.transcriber else None,
            "asr_error": lookup.speech_error,
            "load_seconds": lookup.load_seconds,
            "ivr_calls": request.app.state.hotline.active_calls if request.app.state.hotline else None,
            "error": lookup.load_error or (None if lookup.ready else "models are still loading"),
        }
        return JSONResponse(status_code=200 if lookup.ready else 503, content=body)

    @router.post("/v1/search", response_model=SearchResponse, responses={503: {"model": ErrorBody}})
    def search(
        request: Request, body: SearchRequest, lookup: Annotated[Lookup, Depends(ready_lookup)]
    ) -> SearchResponse:
        started = time.perf_counter()
        check_language(lookup, body.language)
        reply = take_turn(
            lookup, body.text, language=body.language, channel=body.channel, limit=body.limit, started=started
        )
        record_turn(reply, request.app.state.query_log, request.app.state.metrics)
        return search_response(reply)

    @router.post(
        "/v1/query",
        response_model=QueryResponse,
        responses={
            400: {"model": ErrorBody},
            413: {"model": ErrorBody},
            415: {"model": ErrorBody},
            503: {"model": ErrorBody},
        },
        openapi_extra={
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {"type": "object", "properties": {"audio": {"type": "string", "format": "binary"}}}
                    },
                    "audio/*": {"schema": {"type": "string", "format": "binary"}},
                }
            }
        },
    )
    async def query(
        request: Request,
        lookup: Annotated[Lookup, Depends(ready_lookup)],
        language: LanguageQuery = "vi",
        channel: ChannelQuery = Channel.KIOSK,
        sample_rate: Annotated[int | None, Query(ge=8000, le=48000, description="for raw PCM bodies")] = None,
        limit: Annotated[int, Query(ge=1, le=20)] = 5,
    ) -> QueryResponse:
        """A spoken question: multipart field `audio`, or the raw body with its Content-Type."""
        started = time.perf_counter()
        check_language(lookup, language)
        transcriber = lookup.transcriber
        if transcriber is None:
            raise HTTPException(503, detail=lookup.speech_error or "speech recognition is disabled")
        settings = lookup.settings
        data, content_type = await read_audio_upload(request, settings.max_audio_bytes)
        transcript = await request.app.state.speech_gate.run(lookup.transcribe_upload, data, content_type, sample_rate)
        # matching embeds the text (tens of ms): off the event loop
        turn = partial(take_turn, language=language, channel=channel, limit=limit, started=started, heard=transcript)
        reply = await anyio.to_thread.run_sync(turn, lookup, transcript.text)
        audio_file = None
        if settings.query_log_audio:  # opt-in only: recordings are personal data
            audio_file = await anyio.to_thread.run_sync(keep_audio, settings.data_dir, data)
        state = request.app.state
        await anyio.to_thread.run_sync(record_turn, reply, state.query_log, state.metrics, audio_file)
        return query_response(reply)

    @router.get("/v1/languages", response_model=list[LanguageOut])
    def languages(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        channel: ChannelQuery = Channel.WEB,
    ) -> list[LanguageOut]:
        """Enabled answer languages, default first, each with the audio of its own name."""
        out = []
        for lang in lookup.languages.enabled():
            _, url = answer_audio(lookup, language_prompt_id(lang.code), lang.code, channel)
            out.append(
                LanguageOut(code=lang.code, name_vi=lang.name_vi, name_native=lang.name_native, name_audio_url=url)
            )
        default = lookup.settings.languages[0]
        return sorted(out, key=lambda lang: lang.code != default)

    @router.get("/v1/answers/{code}", response_model=AnswerOut, responses={404: {"model": ErrorBody}})
    def answer(
        code: ProcedureCodePath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        language: LanguageQuery = "vi",
        channel: ChannelQuery = Channel.WEB,
    ) -> AnswerOut:
        """A procedure's answer text and audio, for a touched tile or a chosen clarification."""
        check_language(lookup, language)
        proc = lookup.corpus.by_code().get(code)
        if proc is None:
            raise HTTPException(404, detail=f"no procedure with code {code}")
        served, url = answer_audio(lookup, proc.prompt_id, language, channel)
        not_recorded = answer_audio(lookup, NOT_RECORDED_PROMPT, language, channel)[1] if served != language else None
        return AnswerOut(
            code=proc.code,
            name=proc.name,
            field=proc.field,
            agency=proc.agency,
            processing_time=proc.processing_time,
            fee=proc.fee,
            answer_text=proc.answer_vi,
            language=served,
            answer_audio_url=url,
            requested_language=language,
            not_recorded_audio_url=not_recorded,
            documents=proc.documents,
            qr_url=f"/v1/answers/{proc.code}/qr.svg",
        )

    @router.get("/v1/procedures/{code}", response_model=ProcedureOut, responses={404: {"model": ErrorBody}})
    def procedure(
        code: ProcedureCodePath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
    ) -> Procedure:
        found = lookup.corpus.by_code().get(code)
        if found is None:
            raise HTTPException(404, detail=f"no procedure with code {code}")
        return found

    @router.get("/v1/procedures", response_model=list[ProcedureSummary])
    def procedures(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        field: Annotated[str | None, Query(max_length=200)] = None,
        essential: bool | None = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ProcedureSummary]:
        rows = [
            p
            for p in lookup.corpus.procedures
            if (field is None or p.field == field) and (essential is None or p.essential == essential)
        ]
        return [
            ProcedureSummary(code=p.code, name=p.name, field=p.field, essential=p.essential)
            for p in rows[offset : offset + limit]
        ]

    @router.get("/v1/prompts/coverage", responses={200: {"content": {"text/csv": {}, "text/html": {}}}})
    def prompts_coverage(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        format: Annotated[str, Query(pattern=r"^(json|csv|html)$")] = "json",
    ) -> Response:
        """Per language: answers recorded by a person, synthetic only, or missing; essential first."""
        languages = [lang.code for lang in lookup.languages.enabled()]
        rows = coverage_rows(lookup.prompts, lookup.corpus, languages, tile_names(lookup.life_events))
        if format == "csv":
            header = ["prompt_id", "code", "name", "essential", *languages]
            lines = [
                [r.prompt_id, r.code, r.name, str(r.essential).lower(), *[r.status[x].value for x in languages]]
                for r in rows
            ]
            return Response(_csv([header, *lines]), media_type="text/csv; charset=utf-8")
        summary = coverage_summary(rows, languages)
        if format == "html":
            return HTMLResponse(_coverage_html(summary, lookup))
        return JSONResponse({"languages": summary, "procedures": len(lookup.corpus.procedures)})

    @router.get("/v1/prompts/worklist", responses={200: {"content": {"text/csv": {}}}})
    def prompts_worklist(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        language: LanguageQuery,
    ) -> Response:
        """What remains to record by a person in `language`, with the Vietnamese text to translate."""
        if lookup.languages.get(language) is None:
            raise HTTPException(404, detail=f"unknown language {language!r}")
        rows = [
            r
            for r in coverage_rows(lookup.prompts, lookup.corpus, [language], tile_names(lookup.life_events))
            if r.status[language] is not CoverageStatus.HUMAN
        ]
        lines = [["prompt_id", "code", "name", "essential", "status", "text_vi"]]
        lines += [
            [r.prompt_id, r.code, r.name, str(r.essential).lower(), r.status[language].value, r.text_vi] for r in rows
        ]
        return Response(
            _csv(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="worklist-{language}.csv"'},
        )

    @router.get(
        "/v1/prompts/{language}/{prompt_id}",
        response_class=FileResponse,
        responses={404: {"model": ErrorBody}, 200: {"content": {"audio/*": {}}}},
    )
    def prompt_audio(
        request: Request,
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        format: Annotated[AudioFormat, Query(description="wav16k | opus | mp3 | ulaw8k | slin8k")] = AudioFormat.OPUS,
    ) -> Response:
        """A prompt in the channel's format; the language falls back along the registry's chain."""
        if lookup.languages.get(language) is None:
            raise HTTPException(404, detail=f"unknown language {language!r}")
        resolved = lookup.prompts.resolve(prompt_id, language)
        if resolved is None:
            raise HTTPException(404, detail=f"no recording of {prompt_id!r} in {language} or its fallbacks")
        path = transcode(resolved.path, format, lookup.settings.data_dir / "prompt-cache")
        headers = {
            "X-Prompt-Language": resolved.record.language,
            "X-Prompt-Synthetic": "true" if resolved.record.synthetic else "false",
            "Cache-Control": "public, max-age=86400",
            "ETag": f'"{path.stem}"',  # the cache file is named after the content: a strong tag
        }
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type=media_type(format), headers=headers)

    @router.put(
        "/v1/admin/prompts/{language}/{prompt_id}",
        dependencies=[Depends(require_admin)],
        responses={
            400: {"model": ErrorBody},
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            404: {"model": ErrorBody},
            413: {"model": ErrorBody},
            415: {"model": ErrorBody},
        },
    )
    async def upload_prompt(
        request: Request,
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        recorded_by: Annotated[str, Query(min_length=1, max_length=100)] = "unknown",
    ) -> dict[str, object]:
        """Upload a human recording (any common format, multipart `audio` or raw body)."""
        kind, text = _prompt_target(lookup, language, prompt_id)
        data, content_type = await read_audio_upload(request, lookup.settings.max_prompt_upload_bytes)
        record = await anyio.to_thread.run_sync(
            partial(
                store_recording,
                lookup.settings.prompts_dir,
                language,
                prompt_id,
                kind,
                text,
                data,
                content_type,
                recorded_by,
            )
        )
        lookup.prompts = PromptCatalogue(lookup.settings.prompts_dir, lookup.languages)
        return record.model_dump()

    @router.delete("/v1/admin/prompts/{language}/{prompt_id}", dependencies=[Depends(require_admin)])
    def delete_prompt(
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
    ) -> dict[str, object]:
        """Undo the last upload: the previous recording is restored, or the prompt falls back."""
        _prompt_target(lookup, language, prompt_id)
        try:
            restored = restore_previous(lookup.settings.prompts_dir, language, prompt_id)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc.args[0])) from exc
        lookup.prompts = PromptCatalogue(lookup.settings.prompts_dir, lookup.languages)
        return {"restored": restored.model_dump() if restored else None}

    @router.get(
        "/admin/insights", dependencies=[Depends(require_admin)], responses={200: {"content": {"text/html": {}}}}
    )
    def insights(
        request: Request,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        weeks: Annotated[int, Query(ge=1, le=104)] = 12,
        format: Annotated[str, Query(pattern=r"^(html|json)$")] = "html",
    ) -> Response:
        """Reports for officials: most asked, unanswered (grouped), languages, recordings still missing."""
        report = _insights(request, lookup, weeks)
        if format == "json":
            return JSONResponse(jsonable_encoder(report))
        return HTMLResponse(render_html(report))

    @router.get(
        "/admin/insights.csv", dependencies=[Depends(require_admin)], responses={200: {"content": {"text/csv": {}}}}
    )
    def insights_csv(
        request: Request,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        report: Annotated[str, Query(pattern=r"^(top|unanswered|languages|recordings)$")] = "top",
        weeks: Annotated[int, Query(ge=1, le=104)] = 12,
    ) -> Response:
        rows = csv_rows(_insights(request, lookup, weeks), report)
        return Response(
            _csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="insights-{report}.csv"'},
        )

    @router.post("/v1/admin/reload", dependencies=admin, responses={422: {"model": ErrorBody}})
    async def reload(lookup: Annotated[Lookup, Depends(ready_lookup)]) -> dict[str, object]:
        """Re-read the corpus and prompt manifests now (the watcher also does it within seconds)."""
        try:
            changed = await anyio.to_thread.run_sync(lookup.reload)
        except InvalidCorpusError as exc:
            raise HTTPException(
                422, detail=f"the corpus file is invalid; still serving the previous one: {exc}"
            ) from exc
        return {"changed": changed, "procedures": len(lookup.corpus.procedures), "corpus_sha256": lookup.corpus.sha256}

    @router.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """vosk-server protocol; after the final result, one extra `{"match": ...}` message."""
        state = websocket.app.state
        await run_stream(websocket, state.lookup, state.speech_gate)

    return router
