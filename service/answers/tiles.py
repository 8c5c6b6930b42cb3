"""Kiosk tiles: life events in everyday words first, then every other essential procedure.

A tile is a picture, a short plain name and one procedure. Life events (a birth, a death, a
marriage, the ID card …) are listed per province in `corpus/life_events.json`, because the
procedure codes that serve them differ between corpora. The order follows what citizens asked
most in recent weeks, taken from the query log; with no log data, the file's order stands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter, model_validator

from service.answers.prompts import title_prompt_id
from service.corpus import Corpus
from service.names import clip, short_name

log = logging.getLogger(__name__)

ICON_PATTERN = r"^[a-z][a-z-]{1,20}$"


class LifeEvent(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    label: str = Field(min_length=2, max_length=40, description="shown on the tile and spoken as its name")
    icon: str = Field(pattern=ICON_PATTERN, description="an inline icon the kiosk page draws")
    code: str = Field(description="the procedure the tile answers")


class LifeEvents(BaseModel):
    events: list[LifeEvent]

    @model_validator(mode="after")
    def _unique(self) -> LifeEvents:
        ids = [e.id for e in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError("life event ids must be unique")
        return self


def tile_prompt_id(event_id: str) -> str:
    return f"tile-{event_id}"


def tile_names(events: Sequence[LifeEvent]) -> dict[str, str]:
    """Prompt id -> the words it speaks: what a voice talent records for each tile."""
    return {tile_prompt_id(e.id): e.label for e in events}


def load_life_events(path: Path | None, corpus: Corpus) -> tuple[LifeEvent, ...]:
    """Validated events whose procedure is in this corpus; others are left out with a warning."""
    if path is None or not path.is_file():
        return ()
    events = LifeEvents(events=TypeAdapter(list[LifeEvent]).validate_python(json.loads(path.read_bytes()))).events
    codes = corpus.by_code()
    missing = [e.id for e in events if e.code not in codes]
    if missing:
        log.warning("%s: life events whose procedure is not in the corpus are left out: %s", path, missing)
    return tuple(e for e in events if e.code in codes)


# The picture of an essential procedure that no life event names, by words in its field.
_FIELD_ICONS = (
    ("hộ tịch", "family"),
    ("cư trú", "house"),
    ("căn cước", "id-card"),
    ("bhxh", "health"),
    ("bhyt", "health"),
    ("bảo hiểm", "health"),
    ("phương tiện", "motorbike"),
    ("người có công", "medal"),
    ("bảo trợ", "elder"),
    ("giảm nghèo", "rice"),
    ("đất đai", "land"),
    ("chứng thực", "stamp"),
    ("việc làm", "work"),
    ("quân sự", "star"),
    ("doanh nghiệp", "shop"),
    ("xây dựng", "build"),
    ("giáo dục", "school"),
)


def field_icon(field: str) -> str:
    lowered = field.lower()
    return next((icon for words, icon in _FIELD_ICONS if words in lowered), "paper")


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


class Tile(BaseModel):
    code: str
    label: str
    icon: str
    name_prompt_id: str
    life_event: bool
    asked: int = Field(description="answered questions about this procedure in the recent weeks")


def kiosk_tiles(corpus: Corpus, events: Sequence[LifeEvent], asked: Mapping[str, int]) -> list[Tile]:
    """Life events first, then the other essential procedures, each group most asked first.

    A procedure behind a life event is not repeated among the others, so two tiles never
    answer the same thing.
    """
    life = [
        Tile(
            code=e.code,
            label=e.label,
            icon=e.icon,
            name_prompt_id=tile_prompt_id(e.id),
            life_event=True,
            asked=asked.get(e.code, 0),
        )
        for e in events
    ]
    covered = {e.code for e in events}
    rest = [
        Tile(
            code=p.code,
            label=_capitalised(clip(short_name(p.name), 60)),
            icon=field_icon(p.field),
            name_prompt_id=title_prompt_id(p.prompt_id),
            life_event=False,
            asked=asked.get(p.code, 0),
        )
        for p in corpus.procedures
        if p.essential and p.code not in covered
    ]
    # sorted() is stable: among equally asked tiles the file's (or the corpus's) order stands
    return sorted(life, key=lambda t: -t.asked) + sorted(rest, key=lambda t: -t.asked)
