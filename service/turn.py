"""One question-and-answer turn, the same for every channel.

A channel (typed search, upload, WebSocket stream, VoiceXML, AudioSocket call) hands over the
question's text — typed, or what speech recognition heard — with the language and channel;
`take_turn` matches it and returns one typed `Reply`: the decision, the procedures to show,
the words to say, the prompts that say them, the language actually served, and the log
entry. `record_turn` is the one place a turn is logged and counted. The channels keep only
their protocol.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from service.answers import replies
from service.answers.delivery import answer_audio
from service.answers.prompts import title_prompt_id
from service.lookup import Lookup
from service.matching.matcher import Decision, Match
from service.matching.referrals import Referral
from service.ops.metrics import Metrics
from service.ops.querylog import QueryEntry, QueryLog, safe_record
from service.params import Channel
from service.speech.asr import Transcript


@dataclass(frozen=True)
class Choice:
    """A procedure the reply names: the answer, or one of the choices when asking back."""

    code: str
    name: str
    field: str
    score: float
    title_prompt_id: str
    title_audio_url: str | None


@dataclass(frozen=True)
class Reply:
    question: str
    decision: Decision
    confidence: float
    choices: list[Choice]  # the answer first; when asking back, only the choices offered
    answer_text: str
    prompt_id: str  # the prompt that speaks answer_text
    answer_audio_url: str | None
    language: str  # asked for
    served_language: str  # of the answer audio, after the fallback chain
    channel: Channel
    normalized_query: str
    heard: Transcript | None  # for a spoken question: what recognition made of it
    entry: QueryEntry
    referral: Referral | None = None  # out of scope: done elsewhere, and where

    @property
    def answer_code(self) -> str | None:
        return self.choices[0].code if self.decision is Decision.ANSWER and self.choices else None


def _choice(lookup: Lookup, match: Match, language: str, channel: Channel) -> Choice:
    proc = match.procedure
    title = title_prompt_id(proc.prompt_id)
    return Choice(
        code=proc.code,
        name=proc.name,
        field=proc.field,
        score=round(match.score, 4),
        title_prompt_id=title,
        title_audio_url=answer_audio(lookup.prompts, title, language, channel)[1],
    )


def take_turn(
    lookup: Lookup,
    question: str,
    *,
    language: str,
    channel: Channel | str,
    limit: int,
    started: float,
    heard: Transcript | None = None,
    call_id: str | None = None,
) -> Reply:
    """Match one question and say what to answer (blocking: matching embeds the text).

    `started` is `time.perf_counter()` when the question was complete (the request arrived,
    the caller stopped speaking): the logged latency counts from there.
    """
    channel = Channel(channel)
    text = question.strip()
    if heard is not None and heard.too_little(lookup.settings.asr_one_word_voiced_seconds):
        text = ""  # one stray syllable out of seconds of speech: the engine lost the question
    if text:
        result = lookup.search(text, limit)
        decision, confidence, normalized = result.decision, result.confidence, result.normalized.accented
        shown: list[Match] = result.matches
        if decision is Decision.CLARIFY:
            shown = shown[: lookup.settings.clarify_max_candidates]
        top = shown[0].procedure if shown else None
        prompt_id = replies.prompt_for(decision, shown, top)
        referral = result.referral
        answer_text = replies.answer_text(decision, shown, top, referral)
    else:  # nothing recognised: ask the person to say it again
        decision, confidence, normalized, shown, referral = Decision.OUT_OF_SCOPE, 0.0, "", [], None
        prompt_id, answer_text = replies.NOT_UNDERSTOOD_PROMPT, replies.EMPTY_VI
    served, audio_url = answer_audio(lookup.prompts, prompt_id, language, channel)
    choices = [_choice(lookup, m, language, channel) for m in shown]
    entry = QueryEntry(
        channel=channel.value,
        language=language,
        input="speech" if heard is not None else "text",
        text=heard.text if heard is not None else question,
        decision=decision.value,
        top_codes=[c.code for c in choices],
        confidence=confidence,
        latency_ms=(time.perf_counter() - started) * 1000,
        asr_engine=heard.engine if heard is not None else None,
        call_id=call_id,
    )
    return Reply(
        question=text,
        decision=decision,
        confidence=round(confidence, 4),
        choices=choices,
        answer_text=answer_text,
        prompt_id=prompt_id,
        answer_audio_url=audio_url,
        language=language,
        served_language=served,
        channel=channel,
        normalized_query=normalized,
        heard=heard,
        entry=entry,
        referral=referral,
    )


def record_turn(
    reply: Reply, query_log: QueryLog | None, metrics: Metrics | None, audio_file: str | None = None
) -> None:
    """Log the turn and count it (blocking: the database write is committed before replying)."""
    if metrics is not None and reply.heard is not None:
        metrics.observe_asr(reply.heard.engine, reply.heard.duration_s, reply.heard.elapsed_s)
    entry = replace(reply.entry, audio_file=audio_file) if audio_file else reply.entry
    safe_record(query_log, entry, metrics)
