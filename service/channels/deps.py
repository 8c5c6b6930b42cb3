"""FastAPI dependencies and small helpers shared by the routers."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.corpus import Procedure
from service.lookup import Lookup
from service.ops.ratelimit import FailureBackoff, client_key
from service.runtime import get_runtime


def _presented_key(request: Request) -> str:
    """`X-API-Key`, `Authorization: Bearer KEY`, or the password of Basic auth (officials' browsers)."""
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _locked_out(seconds: float) -> HTTPException:
    wait = max(1, math.ceil(seconds))
    return HTTPException(
        429, detail=f"too many wrong API keys from this address; retry in {wait} s", headers={"Retry-After": str(wait)}
    )


def require_admin(request: Request) -> None:
    """Admin calls need a key whose SHA-256 matches TTHC_ADMIN_API_KEY_SHA256; wrong keys back off."""
    runtime = get_runtime(request)
    settings = runtime.settings
    expected = settings.admin_api_key_sha256
    if not expected:
        raise HTTPException(403, detail="admin endpoints are disabled (set TTHC_ADMIN_API_KEY_SHA256)")
    backoff: FailureBackoff = runtime.admin_backoff
    client = client_key(request, settings.trusted_proxies)
    if (wait := backoff.locked_for(client)) > 0:
        raise _locked_out(wait)
    key = _presented_key(request)
    if not key:  # a browser's first try before the Basic-auth prompt: not a guess
        challenge = 'Basic realm="tthc-voice admin"' if request.url.path.startswith("/admin") else "Bearer"
        raise HTTPException(401, detail="missing API key", headers={"WWW-Authenticate": challenge})
    if not hmac.compare_digest(hashlib.sha256(key.encode()).hexdigest(), expected):
        if (lockout := backoff.failed(client)) > 0:
            raise _locked_out(lockout)
        raise HTTPException(403, detail="wrong API key")
    backoff.succeeded(client)


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def get_lookup(request: Request) -> Lookup:
    return get_runtime(request).lookup


def ready_lookup(lookup: Annotated[Lookup, Depends(get_lookup)]) -> Lookup:
    if not lookup.ready:
        raise HTTPException(503, detail=lookup.load_error or "models are still loading, retry shortly")
    return lookup


def procedure_or_404(lookup: Lookup, code: str) -> Procedure:
    """The procedure with this code, or the 404 every endpoint that takes a code answers."""
    found = lookup.corpus.by_code().get(code)
    if found is None:
        raise HTTPException(404, detail=f"no procedure with code {code}")
    return found


def check_language(lookup: Lookup, language: str) -> None:
    if language not in lookup.settings.languages:
        raise HTTPException(422, detail=f"unknown language {language!r}; known: {lookup.settings.languages}")
