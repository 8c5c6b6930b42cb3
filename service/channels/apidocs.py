"""`/docs` and `/redoc` that work with no internet: Swagger UI and ReDoc served by the service.

FastAPI's own pages load both from a CDN (and ReDoc its fonts from Google), so on a commune
network they were blank. The asset files come from the `fastapi-offline` wheel (MIT; it
bundles Swagger UI and ReDoc with their licences); only its static folder is used here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from service.channels.pages import MEDIA_TYPES

ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS_URL = "/docs-assets"
_MEDIA_TYPES = {**MEDIA_TYPES, ".png": "image/png"}
_ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}
_CACHE = {"Cache-Control": "public, max-age=86400"}  # the files change only with the package
# ReDoc always shows its maker's logo from cdn.redoc.ly (no option turns it off): the browser
# is told to load nothing from anywhere but this service, and the logo quietly goes away.
_REDOC_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'"
)


def api_docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @router.get("/docs/oauth2-redirect")
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _REDOC_POLICY
        return page

    @router.get(ASSETS_URL + "/{name}")
    def asset(name: Annotated[str, PathParam(pattern=r"^[a-z.-]+\.(js|css|png)$")]) -> FileResponse:
        if name not in _ASSETS:
            raise HTTPException(404, detail=f"no documentation asset {name!r}")
        path = ASSETS_DIR / name
        return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=_CACHE)

    return router
