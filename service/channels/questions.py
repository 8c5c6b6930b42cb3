"""Where questions come in over HTTP and WebSocket: typed, uploaded, streamed.

Each endpoint reads its protocol and hands the text to the one turn (turn.py)."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket

from service.channels.deps import check_language, ready_lookup
from service.channels.schemas import (
    ErrorBody,
    QueryResponse,
    SearchRequest,
    SearchResponse,
    query_response,
    search_response,
)
from service.channels.uploads import read_audio_upload
from service.channels.websocket import run_stream
from service.lookup import Lookup
from service.ops.querylog import keep_audio
from service.params import Channel, ChannelQuery, LanguageQuery
from service.runtime import get_runtime
from service.turn import record_turn, take_turn


def questions_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/search", response_model=SearchResponse, responses={503: {"model": ErrorBody}})
    def search(
        request: Request, body: SearchRequest, lookup: Annotated[Lookup, Depends(ready_lookup)]
    ) -> SearchResponse:
        started = time.perf_counter()
        check_language(lookup, body.language)
        reply = take_turn(
            lookup, body.text, language=body.language, channel=body.channel, limit=body.limit, started=started
        )
        runtime = get_runtime(request)
        record_turn(reply, runtime.query_log, runtime.metrics)
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
        settings, runtime = lookup.settings, get_runtime(request)
        data, content_type = await read_audio_upload(request, settings.max_audio_bytes)
        transcript = await runtime.speech_gate.run(lookup.transcribe_upload, data, content_type, sample_rate)
        # matching embeds the text (tens of ms): off the event loop
        turn = partial(take_turn, language=language, channel=channel, limit=limit, started=started, heard=transcript)
        reply = await anyio.to_thread.run_sync(turn, lookup, transcript.text)
        audio_file = None
        if settings.query_log_audio:  # opt-in only: recordings are personal data
            audio_file = await anyio.to_thread.run_sync(keep_audio, settings.data_dir, data)
        await anyio.to_thread.run_sync(record_turn, reply, runtime.query_log, runtime.metrics, audio_file)
        return query_response(reply)

    @router.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """vosk-server protocol; after the final result, one extra `{"match": ...}` message."""
        await run_stream(websocket, get_runtime(websocket))

    return router
