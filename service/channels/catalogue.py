"""The procedures and languages the service knows, and one procedure's answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.answers.delivery import answer_audio
from service.answers.prompts import NOT_RECORDED_PROMPT, language_prompt_id
from service.channels.deps import check_language, get_lookup, procedure_or_404
from service.channels.schemas import AnswerOut, ErrorBody, LanguageOut, ProcedureOut, ProcedureSummary
from service.corpus import Procedure
from service.lookup import Lookup
from service.params import Channel, ChannelQuery, LanguageQuery, ProcedureCodePath


def catalogue_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/languages", response_model=list[LanguageOut])
    def languages(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        channel: ChannelQuery = Channel.WEB,
    ) -> list[LanguageOut]:
        """Enabled answer languages, default first, each with the audio of its own name."""
        out = []
        for lang in lookup.languages.enabled():
            _, url = answer_audio(lookup.prompts, language_prompt_id(lang.code), lang.code, channel)
            out.append(
                LanguageOut(code=lang.code, name_vi=lang.name_vi, name_native=lang.name_native, name_audio_url=url)
            )
        default = lookup.settings.languages[0]
        return sorted(out, key=lambda lang: lang.code != default)

    @router.get("/v1/answers/{code}", response_model=AnswerOut, responses={404: {"model": ErrorBody}})
    def answer(
        code: ProcedureCodePath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        language: LanguageQuery = "vi",
        channel: ChannelQuery = Channel.WEB,
    ) -> AnswerOut:
        """A procedure's answer text and audio, for a touched tile or a chosen clarification."""
        check_language(lookup, language)
        proc = procedure_or_404(lookup, code)
        served, url = answer_audio(lookup.prompts, proc.prompt_id, language, channel)
        not_recorded = (
            answer_audio(lookup.prompts, NOT_RECORDED_PROMPT, language, channel)[1] if served != language else None
        )
        return AnswerOut(
            code=proc.code,
            name=proc.name,
            field=proc.field,
            agency=proc.agency,
            processing_time=proc.processing_time,
            fee=proc.fee,
            answer_text=proc.answer_vi,
            language=served,
            answer_audio_url=url,
            requested_language=language,
            not_recorded_audio_url=not_recorded,
            documents=proc.documents,
            qr_url=f"/v1/answers/{proc.code}/qr.svg",
        )

    @router.get("/v1/procedures/{code}", response_model=ProcedureOut, responses={404: {"model": ErrorBody}})
    def procedure(
        code: ProcedureCodePath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
    ) -> Procedure:
        return procedure_or_404(lookup, code)

    @router.get("/v1/procedures", response_model=list[ProcedureSummary])
    def procedures(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        field: Annotated[str | None, Query(max_length=200)] = None,
        essential: bool | None = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ProcedureSummary]:
        rows = [
            p
            for p in lookup.corpus.procedures
            if (field is None or p.field == field) and (essential is None or p.essential == essential)
        ]
        return [
            ProcedureSummary(code=p.code, name=p.name, field=p.field, essential=p.essential)
            for p in rows[offset : offset + limit]
        ]

    return router
