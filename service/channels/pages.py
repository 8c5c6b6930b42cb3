"""Browser channels: the portal widget and its demo, and the static files (the kiosk page is kiosk.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Short caching: kiosks pick up a new release within minutes without anyone clearing a cache.
PAGE_CACHE = {"Cache-Control": "public, max-age=300"}


def pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/widget/voice-search.js")
    def widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "voice-search.js", media_type=MEDIA_TYPES[".js"], headers=PAGE_CACHE)

    @router.get("/widget/demo")
    def widget_demo() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget-demo.html", media_type="text/html; charset=utf-8", headers=PAGE_CACHE)

    @router.get("/static/{name}")
    def static(name: Annotated[str, PathParam(pattern=r"^[a-z0-9-]+\.(js|css)$")]) -> FileResponse:
        path = STATIC_DIR / name
        if not path.is_file():
            raise HTTPException(404, detail=f"no static file {name!r}")
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=PAGE_CACHE)

    return router
