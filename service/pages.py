"""Browser channels: the kiosk page, the portal widget and its demo, and their static files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Short caching: kiosks pick up a new release within minutes without anyone clearing a cache.
_CACHE = {"Cache-Control": "public, max-age=300"}


def pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.api_route("/kiosk", methods=["GET", "HEAD"])
    def kiosk(request: Request) -> HTMLResponse:
        page = (STATIC_DIR / "kiosk.html").read_text(encoding="utf-8")
        idle = str(request.app.state.settings.kiosk_idle_seconds)
        return HTMLResponse(page.replace("{{IDLE_SECONDS}}", idle), headers=_CACHE)

    @router.get("/widget/voice-search.js")
    def widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "voice-search.js", media_type=MEDIA_TYPES[".js"], headers=_CACHE)

    @router.get("/widget/demo")
    def widget_demo() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget-demo.html", media_type="text/html; charset=utf-8", headers=_CACHE)

    @router.get("/static/{name}")
    def static(name: Annotated[str, PathParam(pattern=r"^[a-z0-9-]+\.(js|css)$")]) -> FileResponse:
        path = STATIC_DIR / name
        if not path.is_file():
            raise HTTPException(404, detail=f"no static file {name!r}")
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=_CACHE)

    return router
