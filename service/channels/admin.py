"""What officials and operators do with an API key: reports from the query log, reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from service.channels.deps import csv_text, get_lookup, ready_lookup, require_admin
from service.channels.schemas import ErrorBody
from service.corpus import InvalidCorpusError
from service.lookup import Lookup
from service.ops.insights import Insights, build_insights, csv_rows, render_html
from service.ops.querylog import QueryLog
from service.runtime import get_runtime


def _insights(request: Request, lookup: Lookup, weeks: int) -> Insights:
    query_log: QueryLog | None = get_runtime(request).query_log
    if query_log is None:
        raise HTTPException(404, detail="the query log is off (TTHC_QUERY_LOG=false)")
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    return build_insights(query_log.rows(since), lookup.corpus, lookup.prompts, weeks)


def admin_router() -> APIRouter:
    router = APIRouter()
    admin = [Depends(require_admin)]

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
            csv_text(rows),
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

    return router
