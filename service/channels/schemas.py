"""Request and response models at the HTTP edge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.corpus import Document
from service.params import LANGUAGE_PATTERN, Channel

if TYPE_CHECKING:
    from service.turn import Reply


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500, description="The citizen's question, typed or transcribed")
    limit: int = Field(5, ge=1, le=20)
    language: str = Field("vi", pattern=LANGUAGE_PATTERN, description="Language for the answer")
    channel: Channel = Field(Channel.WEB, description="picks the answer audio format")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must contain words, not only spaces")
        return v


class MatchOut(BaseModel):
    code: str
    name: str
    score: float
    field: str
    title_audio_url: str | None = Field(None, description="the procedure's short name, spoken (for choices)")


class ReferralOut(BaseModel):
    """A procedure the commune does not do, and the office that does it."""

    code: str
    name: str
    office: str


class SearchResponse(BaseModel):
    decision: str = Field(description="answer | clarify | out_of_scope")
    confidence: float
    matches: list[MatchOut]
    answer_text: str
    normalized_query: str
    language: str = Field(description="language of the answer audio actually served (after fallback)")
    answer_audio_url: str | None = Field(None, description="recorded or synthetic answer in the channel's format")
    referral: ReferralOut | None = Field(
        None, description="out_of_scope only: the question is about a procedure done elsewhere, and where"
    )


class AsrInfo(BaseModel):
    engine: str
    confidence: float = Field(description="the engine's own confidence in [0, 1]; 0 where it gives none (viet-asr)")
    duration_s: float
    rtf: float = Field(description="decoding time / audio duration")


class QueryResponse(SearchResponse):
    transcript: str
    asr: AsrInfo
    channel: str


def search_response(reply: Reply) -> SearchResponse:
    return SearchResponse(
        decision=reply.decision.value,
        confidence=reply.confidence,
        matches=[
            MatchOut(code=c.code, name=c.name, score=c.score, field=c.field, title_audio_url=c.title_audio_url)
            for c in reply.choices
        ],
        answer_text=reply.answer_text,
        normalized_query=reply.normalized_query,
        language=reply.served_language,
        answer_audio_url=reply.answer_audio_url,
        referral=(
            ReferralOut(code=reply.referral.code, name=reply.referral.name, office=reply.referral.office)
            if reply.referral is not None
            else None
        ),
    )


def query_response(reply: Reply) -> QueryResponse:
    """A spoken turn's body: the search body plus what was heard and how fast."""
    heard = reply.heard
    if heard is None:
        raise ValueError("a query response needs a spoken question")
    return QueryResponse(
        **search_response(reply).model_dump(),
        transcript=heard.text,
        asr=AsrInfo(
            engine=heard.engine,
            confidence=round(heard.confidence, 4),
            duration_s=round(heard.duration_s, 3),
            rtf=round(heard.rtf, 4),
        ),
        channel=reply.channel.value,
    )


class ProcedureOut(BaseModel):
    code: str
    name: str
    field: str
    level: str
    agency: str
    processing_time: str | None
    fee: str | None
    documents: list[Document]
    steps: list[str]
    aliases: list[str]
    answer_vi: str
    essential: bool
    prompt_id: str
    legal_basis: list[str]
    source_url: str | None


class ProcedureSummary(BaseModel):
    code: str
    name: str
    field: str
    essential: bool


class LanguageOut(BaseModel):
    code: str
    name_vi: str
    name_native: str
    name_audio_url: str | None = Field(description="the language saying its own name (falls back to Vietnamese)")


class AnswerOut(BaseModel):
    """One procedure's spoken answer: what a kiosk tile or a clarification choice shows and plays."""

    code: str
    name: str
    field: str
    agency: str
    processing_time: str | None
    fee: str | None
    answer_text: str
    language: str = Field(description="language of the answer audio actually served (after fallback)")
    answer_audio_url: str | None
    requested_language: str
    not_recorded_audio_url: str | None = Field(
        description="when the answer falls back to another language: the prompt that says so, to play first"
    )
    documents: list[Document] = Field(description="the full list of papers, for the printed checklist")
    qr_url: str = Field(description="an SVG QR code holding the answer text")


class ErrorBody(BaseModel):
    error: str
    detail: object | None = None
