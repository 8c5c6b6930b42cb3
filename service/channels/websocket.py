"""The WebSocket stream (`/v1/stream`): the vosk-server protocol, with the match as a last message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from fastapi import WebSocket, WebSocketDisconnect
from starlette.types import Message

from service.channels.schemas import query_response
from service.ops.ratelimit import client_key
from service.params import Channel
from service.speech.asr import Transcript
from service.speech.audio import SUPPORTED_RATES
from service.speech.stream import StreamSession, open_session, parse_control
from service.turn import record_turn, take_turn

if TYPE_CHECKING:
    from service.runtime import Runtime

T = TypeVar("T")
log = logging.getLogger(__name__)


class _StreamTimeoutError(Exception):
    pass


async def _receive(websocket: WebSocket, timeout_s: float) -> Message:
    try:
        return await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError as exc:
        raise _StreamTimeoutError from exc


def _config_rate(config: dict[str, Any], current: int) -> int | None:
    """The sample rate a config asks for, or None when it is not one we take (1e999, "fast", 12345)."""
    value = config.get("sample_rate", current)
    try:
        rate = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return rate if rate in SUPPORTED_RATES else None


async def run_stream(websocket: WebSocket, runtime: Runtime) -> None:
    """One WebSocket recognition session, as vosk-server runs it, plus the final match."""
    lookup, gate, slots = runtime.lookup, runtime.speech_gate, runtime.stream_slots
    settings = lookup.settings
    await websocket.accept()
    if lookup.transcriber is None or not lookup.ready:
        await websocket.send_json({"error": lookup.speech_error or "speech recognition is not ready"})
        await websocket.close(code=1013)
        return
    client = client_key(websocket, settings.trusted_proxies)
    refused = slots.acquire(client)
    if refused is not None:
        await websocket.send_json({"error": refused})
        await websocket.close(code=1013)
        return
    engine = lookup.transcriber
    rate, phrase_list, channel, language = settings.stream_default_rate, None, "ivr", settings.languages[0]
    session: StreamSession | None = None
    finals: list[dict[str, Any]] = []
    elapsed = 0.0
    audio_seconds = 0.0

    async def close_utterance(final: dict[str, Any]) -> None:
        finals.append(final)
        await websocket.send_json(final)

    async def answer_and_close(code: int, started: float) -> None:
        """The match for everything said in this stream, logged, then the close (1012: reconnect elsewhere)."""
        text = " ".join(f["text"] for f in finals if f.get("text")).strip()
        words = [w for f in finals for w in f.get("result", [])]
        confidence = sum(float(w.get("conf", 0)) for w in words) / len(words) if words else 0.0
        heard = Transcript(text, engine.name, confidence, audio_seconds, elapsed)
        turn = partial(
            take_turn, language=language, channel=channel, limit=settings.search_limit, started=started, heard=heard
        )
        reply = await anyio.to_thread.run_sync(turn, lookup, text)
        await anyio.to_thread.run_sync(record_turn, reply, runtime.query_log, runtime.metrics)
        await websocket.send_json({"match": query_response(reply).model_dump(mode="json")})
        await websocket.close(code=code)

    async def refuse(message: str, code: int) -> None:
        await websocket.send_json({"error": message})
        await websocket.close(code=code)

    first_audio_by = time.monotonic() + settings.stream_first_audio_seconds
    try:
        while True:
            if audio_seconds == 0:  # control frames alone do not keep a stream that sends no audio
                wait = first_audio_by - time.monotonic()
                idle = f"no audio within {settings.stream_first_audio_seconds:g} s"
            else:
                wait = settings.stream_idle_seconds
                idle = f"no audio for {settings.stream_idle_seconds:g} s"
            try:
                message = await _receive(websocket, max(wait, 0.001))
            except _StreamTimeoutError:
                await refuse(f"{idle}; closing the stream", code=1008)
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                frame: bytes = message["bytes"]
                if len(frame) > settings.stream_max_frame_bytes:
                    limit = settings.stream_max_frame_bytes
                    await refuse(f"binary frames must be at most {limit} bytes", code=1009)
                    return
                if session is None:
                    session = open_session(engine, rate, phrase_list, settings.max_audio_seconds)
                t0 = time.perf_counter()
                reply = await gate.run(session.feed, frame, wait=True)  # shares the CPU with uploads
                elapsed += time.perf_counter() - t0
                audio_seconds += len(frame) / 2 / rate
                if audio_seconds > settings.max_stream_seconds:
                    await refuse(f"stream longer than {settings.max_stream_seconds:g} s", code=1009)
                    return
                if "text" in reply:
                    await close_utterance(reply)
                    if runtime.draining:  # shutting down: this utterance was the question; answer it
                        await answer_and_close(code=1012, started=time.perf_counter())
                        return
                else:
                    await websocket.send_json(reply)
                continue
            try:
                control = parse_control(message.get("text") or "")
            except ValueError as exc:
                await websocket.send_json({"error": str(exc)})
                continue
            if "config" in control:
                config = control["config"] if isinstance(control["config"], dict) else {}
                new_rate = _config_rate(config, rate)
                if new_rate is None:
                    await websocket.send_json({"error": f"unsupported sample_rate {config.get('sample_rate')!r}"})
                    continue
                rate = new_rate
                phrases = config.get("phrase_list")
                phrase_list = [str(p) for p in phrases] if isinstance(phrases, list) else None
                if config.get("channel") in tuple(Channel):
                    channel = config["channel"]
                if config.get("language") in settings.languages:
                    language = config["language"]
                session = None
                continue
            if "eof" in control or "reset" in control:
                t0 = time.perf_counter()  # the question is complete: its latency counts from here
                final = await gate.run(session.finish, wait=True) if session else {"text": ""}
                elapsed += time.perf_counter() - t0
                await close_utterance(final)
                session = None
                if "eof" in control or runtime.draining:
                    await answer_and_close(code=1012 if runtime.draining else 1000, started=t0)
                    return
    except WebSocketDisconnect:
        return
    except Exception:  # a bug must still close the socket properly, with a reason
        log.exception("stream failed")
        with contextlib.suppress(Exception):
            await refuse("internal error in this stream", code=1011)
    finally:
        slots.release(client)
