"""What the kiosk page asks for besides answers: its tiles, its words, and a QR code to take home.

Strings live in `static/strings/<lang>.json` (a province may put its own in
`TTHC_KIOSK_STRINGS_DIR`). Vietnamese is complete; any other language holds only what someone
is sure of, each entry marked until a native speaker has reviewed it, and every missing entry
is served in the next language of the fallback chain, so the screen never shows a blank.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from service.answers.delivery import answer_audio
from service.answers.tiles import kiosk_tiles
from service.channels.deps import check_language, get_lookup, procedure_or_404
from service.channels.pages import PAGE_CACHE, STATIC_DIR
from service.lookup import Lookup
from service.ops.querylog import QueryLog
from service.params import LanguageQuery, ProcedureCodePath
from service.runtime import get_runtime

log = logging.getLogger(__name__)

BUILT_IN_STRINGS = STATIC_DIR / "strings"
REFERENCE_LANGUAGE = "vi"


class TileOut(BaseModel):
    code: str
    label: str
    icon: str
    life_event: bool
    asked: int
    name_audio_url: str | None = Field(description="the tile's name, spoken (falls back along the chain)")


class StringsOut(BaseModel):
    language: str
    strings: dict[str, str]
    from_language: dict[str, str] = Field(description="entries shown in another language, and which")
    unreviewed: list[str] = Field(description="entries no native speaker has reviewed yet")


def _read_strings(path: Path) -> dict[str, tuple[str, bool]]:
    """{key: (text, reviewed)}; a plain string counts as reviewed, keys starting with _ are notes."""
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: kiosk strings not read: %s", path, exc)
        return {}
    out: dict[str, tuple[str, bool]] = {}
    for key, value in raw.items() if isinstance(raw, dict) else ():
        if key.startswith("_"):
            continue
        if isinstance(value, str):
            out[key] = (value, True)
        elif isinstance(value, dict) and isinstance(value.get("text"), str):
            out[key] = (value["text"], bool(value.get("reviewed", False)))
    return out


def kiosk_strings(lookup: Lookup, language: str) -> StringsOut:
    folders = [d for d in (lookup.settings.kiosk_strings_dir, BUILT_IN_STRINGS) if d is not None]

    def strings_of(code: str) -> dict[str, tuple[str, bool]]:
        merged: dict[str, tuple[str, bool]] = {}
        for folder in reversed(folders):  # the province's file wins over the built-in one
            merged.update(_read_strings(folder / f"{code}.json"))
        return merged

    chain = [c for c in lookup.languages.chain(language) if c != REFERENCE_LANGUAGE] + [REFERENCE_LANGUAGE]
    tables = {code: strings_of(code) for code in chain}
    strings: dict[str, str] = {}
    from_language: dict[str, str] = {}
    unreviewed: list[str] = []
    for key in tables[REFERENCE_LANGUAGE]:
        code = next(c for c in chain if key in tables[c])
        text, reviewed = tables[code][key]
        strings[key] = text
        if code != language:
            from_language[key] = code
        if not reviewed:
            unreviewed.append(key)
    return StringsOut(language=language, strings=strings, from_language=from_language, unreviewed=unreviewed)


def _asked(query_log: QueryLog | None, weeks: int) -> dict[str, int]:
    if query_log is None:
        return {}
    try:
        return query_log.answered_counts(datetime.now(UTC) - timedelta(weeks=weeks))
    except Exception:  # tiles in the file's order beat no tiles at all
        log.exception("query log unreadable; tiles keep their configured order")
        return {}


def kiosk_page(lookup: Lookup) -> str:
    """The page with its settings and the Vietnamese strings inside: it can explain a failure
    in words even when the service stops answering right after the page loaded."""
    page = (STATIC_DIR / "kiosk.html").read_text(encoding="utf-8")
    settings = lookup.settings
    config = {
        "idleSeconds": settings.kiosk_idle_seconds,
        "listenSeconds": settings.kiosk_listen_seconds,
        "strings": kiosk_strings(lookup, REFERENCE_LANGUAGE).strings,
    }
    # "<" escaped: no string can close the script element it sits in
    return page.replace("{{KIOSK_CONFIG}}", json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"))


def kiosk_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/kiosk", methods=["GET", "HEAD"], include_in_schema=False)
    def kiosk(lookup: Annotated[Lookup, Depends(get_lookup)]) -> HTMLResponse:
        return HTMLResponse(kiosk_page(lookup), headers=PAGE_CACHE)

    @router.get("/v1/kiosk/tiles", response_model=list[TileOut])
    def tiles(
        request: Request,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        language: LanguageQuery = "vi",
    ) -> list[TileOut]:
        """Life events first, then the other essential procedures; most asked first in each group."""
        check_language(lookup, language)
        asked = _asked(get_runtime(request).query_log, lookup.settings.kiosk_tiles_weeks)
        return [
            TileOut(
                code=t.code,
                label=t.label,
                icon=t.icon,
                life_event=t.life_event,
                asked=t.asked,
                name_audio_url=answer_audio(lookup.prompts, t.name_prompt_id, language, "kiosk")[1],
            )
            for t in kiosk_tiles(lookup.corpus, lookup.life_events, asked)
        ]

    @router.get("/v1/kiosk/strings", response_model=StringsOut)
    def strings(lookup: Annotated[Lookup, Depends(get_lookup)], language: LanguageQuery = "vi") -> StringsOut:
        """The page's words in `language`, Vietnamese where nothing sure exists yet."""
        check_language(lookup, language)
        return kiosk_strings(lookup, language)

    @router.get(
        "/v1/answers/{code}/qr.svg",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}, 404: {"description": "unknown procedure"}},
    )
    def answer_qr(
        code: ProcedureCodePath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
    ) -> Response:
        """The answer text itself in a QR code: a phone reads it with no internet at all."""
        proc = procedure_or_404(lookup, code)
        buffer = io.BytesIO()
        segno.make(proc.answer_vi, error="m", micro=False).save(buffer, kind="svg", scale=4, border=4, xmldecl=False)
        return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=300"})

    return router
