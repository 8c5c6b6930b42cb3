"""HTTP turns for IVRs that record and submit (VoiceXML 2.1 browsers and similar).

`POST /v1/ivr/turn` takes the caller's recording and answers with a small VoiceXML document
that plays the answer (8 kHz mu-law WAV), records the next question and submits it back here;
when the service is unsure, a `<menu>` offers the choices by key, each leading to
`GET /v1/ivr/answer`. `Accept: application/json` gets the same turn as JSON instead.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from functools import partial
from typing import Annotated
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service.answers.delivery import answer_audio
from service.channels.deps import check_language, procedure_or_404, ready_lookup
from service.channels.schemas import ErrorBody
from service.channels.uploads import read_audio_upload
from service.corpus import Procedure
from service.lookup import Lookup
from service.matching.matcher import Decision
from service.params import Channel, LanguageQuery, ProcedureCodeQuery
from service.runtime import get_runtime
from service.turn import Reply, record_turn, take_turn

log = logging.getLogger(__name__)

VXML_MEDIA_TYPE = "application/voicexml+xml"
CALL_ID = r"^[A-Za-z0-9._:-]{1,64}$"


class IvrChoice(BaseModel):
    dtmf: str
    code: str
    name: str
    title_audio_url: str | None
    next_url: str


class IvrTurn(BaseModel):
    call_id: str
    transcript: str
    decision: str
    answer_text: str
    language: str = Field(description="the call's language: its menus and next turns keep it")
    served_language: str = Field(description="language of the answer audio actually served (after fallback)")
    answer_audio_url: str | None
    choices: list[IvrChoice]


def _audio(parent: ET.Element, url: str | None) -> None:
    if url:
        ET.SubElement(parent, "audio", src=url)


def _record_next(form: ET.Element, lookup: Lookup, call_id: str, language: str) -> None:
    """Record the next question after the beep and submit it to the next turn."""
    record = ET.SubElement(
        form,
        "record",
        name="audio",
        beep="true",
        maxtime=f"{lookup.settings.ivr_max_utterance_seconds:g}s",
        finalsilence="1s",
        type="audio/x-wav",
    )
    prompt = ET.SubElement(record, "prompt")
    _audio(prompt, answer_audio(lookup.prompts, "sys-ask-again", language, "ivr")[1])
    filled = ET.SubElement(record, "filled")
    ET.SubElement(
        filled,
        "submit",
        next="/v1/ivr/turn?" + urlencode({"call_id": call_id, "language": language}),
        method="post",
        enctype="multipart/form-data",
        namelist="audio",
    )
    noinput = ET.SubElement(record, "noinput")
    _audio(noinput, answer_audio(lookup.prompts, "sys-goodbye", language, "ivr")[1])
    ET.SubElement(noinput, "exit")


def render_vxml(turn: IvrTurn, lookup: Lookup) -> bytes:
    vxml = ET.Element("vxml", {"version": "2.1", "xmlns": "http://www.w3.org/2001/vxml", "xml:lang": "vi-VN"})
    if turn.choices:
        menu = ET.SubElement(vxml, "menu", id="choices", dtmf="true")
        prompt = ET.SubElement(menu, "prompt")
        _audio(prompt, turn.answer_audio_url)
        for choice in turn.choices:
            _audio(prompt, choice.title_audio_url)
            _audio(prompt, answer_audio(lookup.prompts, f"sys-press-{choice.dtmf}", turn.language, "ivr")[1])
        for choice in turn.choices:
            ET.SubElement(menu, "choice", dtmf=choice.dtmf, next=choice.next_url)
        ET.SubElement(ET.SubElement(menu, "noinput"), "reprompt")
    else:
        form = ET.SubElement(vxml, "form", id="answer")
        _audio(ET.SubElement(form, "block"), turn.answer_audio_url)
        _record_next(form, lookup, turn.call_id, turn.language)
    document: bytes = ET.tostring(vxml, encoding="utf-8", xml_declaration=True)
    return document


def _reply(request: Request, turn: IvrTurn, lookup: Lookup) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return Response(turn.model_dump_json(), media_type="application/json")
    return Response(render_vxml(turn, lookup), media_type=VXML_MEDIA_TYPE)


def _turn_of(reply: Reply, call_id: str) -> IvrTurn:
    """The channel's view of a turn: when asking back, each choice is a key and a next URL."""
    choices = []
    if reply.decision is Decision.CLARIFY:
        for number, choice in enumerate(reply.choices, start=1):
            query = urlencode({"call_id": call_id, "language": reply.language, "code": choice.code})
            choices.append(
                IvrChoice(
                    dtmf=str(number),
                    code=choice.code,
                    name=choice.name,
                    title_audio_url=choice.title_audio_url,
                    next_url=f"/v1/ivr/answer?{query}",
                )
            )
    return IvrTurn(
        call_id=call_id,
        transcript=reply.question,
        decision=reply.decision.value,
        answer_text=reply.answer_text,
        language=reply.language,
        served_language=reply.served_language,
        answer_audio_url=reply.answer_audio_url,
        choices=choices,
    )


def _answer_turn(lookup: Lookup, call_id: str, language: str, proc: Procedure) -> IvrTurn:
    """The answer to a choice made by key: no question, so nothing to match or log."""
    served, url = answer_audio(lookup.prompts, proc.prompt_id, language, Channel.IVR)
    return IvrTurn(
        call_id=call_id,
        transcript="",
        decision=Decision.ANSWER.value,
        answer_text=proc.answer_vi,
        language=language,
        served_language=served,
        answer_audio_url=url,
        choices=[],
    )


def vxml_router() -> APIRouter:
    router = APIRouter()
    turn_responses: dict[int | str, dict[str, object]] = {
        # "model" puts IvrTurn and IvrChoice under components; an inlined model_json_schema()
        # kept a "#/$defs/..." reference that no OpenAPI reader resolves (ReDoc stopped on it).
        200: {"model": IvrTurn, "content": {VXML_MEDIA_TYPE: {}}},
        400: {"model": ErrorBody},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
        503: {"model": ErrorBody},
    }

    @router.post("/v1/ivr/turn", response_class=Response, responses=turn_responses)
    async def ivr_turn(
        request: Request,
        lookup: Annotated[Lookup, Depends(ready_lookup)],
        call_id: Annotated[str, Query(pattern=CALL_ID)],
        language: LanguageQuery = "vi",
    ) -> Response:
        """One caller turn: the recording (multipart `audio` or raw body) in, VoiceXML (or JSON) out."""
        started = time.perf_counter()
        check_language(lookup, language)
        if lookup.transcriber is None:
            raise HTTPException(503, detail=lookup.speech_error or "speech recognition is disabled")
        data, content_type = await read_audio_upload(request, lookup.settings.max_audio_bytes)
        transcript = await get_runtime(request).speech_gate.run(lookup.transcribe_upload, data, content_type, None)
        turn = partial(
            take_turn,
            language=language,
            channel=Channel.IVR,
            limit=lookup.settings.clarify_max_candidates,
            started=started,
            heard=transcript,
            call_id=call_id,
        )
        reply = await anyio.to_thread.run_sync(turn, lookup, transcript.text)
        log.info("ivr turn %s: heard %r -> %s", call_id, reply.question, reply.decision.value)
        state = get_runtime(request)
        await anyio.to_thread.run_sync(record_turn, reply, state.query_log, state.metrics)
        return _reply(request, _turn_of(reply, call_id), lookup)

    @router.get("/v1/ivr/answer", response_class=Response, responses=turn_responses)
    def ivr_answer(
        request: Request,
        lookup: Annotated[Lookup, Depends(ready_lookup)],
        call_id: Annotated[str, Query(pattern=CALL_ID)],
        code: ProcedureCodeQuery,
        language: LanguageQuery = "vi",
    ) -> Response:
        """The answer to a choice made by key in the menu of an earlier turn."""
        check_language(lookup, language)
        return _reply(request, _answer_turn(lookup, call_id, language, procedure_or_404(lookup, code)), lookup)

    return router
