"""Request parameters the routers share, declared once: language, channel, procedure code, prompt id.

One declaration per parameter keeps the rules, the error messages and the OpenAPI schema the
same on every endpoint that takes it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Path, Query

from service.corpus import CODE_PATTERN, PROMPT_ID_PATTERN

LANGUAGE_PATTERN = r"^[a-z]{2,3}$"  # ISO 639 code: vi, hmn, tai, ...


class Channel(StrEnum):
    """Where the question came from; it picks the answer audio's format."""

    KIOSK = "kiosk"
    WEB = "web"
    IVR = "ivr"


_LANGUAGE = "answer language code, e.g. vi, hmn, tai"
_CODE = "procedure code, e.g. 1.001193"

LanguageQuery = Annotated[str, Query(pattern=LANGUAGE_PATTERN, description=_LANGUAGE)]
LanguagePath = Annotated[str, Path(pattern=LANGUAGE_PATTERN, description=_LANGUAGE)]
ChannelQuery = Annotated[Channel, Query(description="kiosk | web | ivr: picks the audio format")]
ProcedureCodePath = Annotated[str, Path(pattern=CODE_PATTERN.pattern, description=_CODE)]
ProcedureCodeQuery = Annotated[str, Query(pattern=CODE_PATTERN.pattern, description=_CODE)]
PromptIdPath = Annotated[str, Path(pattern=PROMPT_ID_PATTERN.pattern, description="e.g. p-1-001193, sys-clarify")]
