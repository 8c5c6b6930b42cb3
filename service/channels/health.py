"""Liveness, readiness and Prometheus metrics: what an orchestrator and a monitor ask."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from service.channels.deps import get_lookup
from service.channels.schemas import ErrorBody
from service.lookup import Lookup
from service.runtime import get_runtime


def health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text format."""
        rendered: Response = get_runtime(request).metrics.render()
        return rendered

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"model": ErrorBody}})
    def readyz(request: Request, lookup: Annotated[Lookup, Depends(get_lookup)]) -> JSONResponse:
        hotline = get_runtime(request).hotline
        body = {
            "ready": lookup.ready,
            "procedures": len(lookup.corpus.procedures),
            "corpus_sha256": lookup.corpus.sha256,
            "embeddings": bool(lookup.matcher and lookup.matcher.embedding),
            "asr_engine": lookup.transcriber.name if lookup.transcriber else None,
            "asr_error": lookup.speech_error,
            "load_seconds": lookup.load_seconds,
            "ivr_calls": hotline.active_calls if hotline else None,
            "error": lookup.load_error or (None if lookup.ready else "models are still loading"),
        }
        return JSONResponse(status_code=200 if lookup.ready else 503, content=body)

    return router
