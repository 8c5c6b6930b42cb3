"""Telephone hotline over Asterisk AudioSocket: language menu, question, answer, choices by key.

One asyncio task per call. Audio work that costs CPU (recognition, matching, first transcode
of a prompt) runs in threads behind the shared speech gate, so a slow call delays others a
little but never blocks or breaks them; any failure ends only its own call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import numpy as np
import soxr

from service.answers import replies
from service.answers.prompts import language_prompt_id, title_prompt_id
from service.answers.transcode import AudioFormat, transcode
from service.channels.hotline.audiosocket import AUDIO_RATES, Frame, Kind, ProtocolError, call_id, encode, read_frame
from service.matching.matcher import Decision
from service.ops.metrics import Metrics
from service.ops.querylog import QueryLog
from service.params import Channel
from service.speech.asr import Transcript
from service.speech.audio import Pcm
from service.speech.stream import FRAME_SILENCE_RMS, PAUSE_SECONDS, frame_rms
from service.turn import record_turn, take_turn

if TYPE_CHECKING:
    from service.lookup import Lookup
    from service.speech.gate import SpeechGate

log = logging.getLogger(__name__)

RATE = 8000  # what the service sends: slin 8 kHz, the format every Asterisk channel accepts
FRAME_BYTES = 320  # 20 ms
SPEECH_RMS = FRAME_SILENCE_RMS  # the same end-of-question rule as streams (measured in docs/speech.md)
END_PAUSE_S = PAUSE_SECONDS
MIN_SPEECH_S = 0.2
PREROLL_S = 0.3


def beep(seconds: float = 0.25, hz: float = 1000.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    tone = 8000 * np.sin(2 * np.pi * hz * t) * np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # no clicks
    return tone.astype("<i2").tobytes()


@lru_cache(maxsize=128)
def _slin(path: Path, mtime_ns: int, cache_dir: Path) -> bytes:
    return transcode(path, AudioFormat.SLIN8K, cache_dir).read_bytes()


class CallEndedError(Exception):
    """The caller hung up, or the connection broke: stop this call quietly."""


@dataclass
class Heard:
    digit: str | None = None
    pcm: np.ndarray | None = None  # int16 at `rate`
    rate: int = RATE


class Call:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        lookup: Lookup,
        gate: SpeechGate,
        query_log: QueryLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._query_log = query_log
        self._metrics = metrics
        self._reader = reader
        self._writer = writer
        self._lookup = lookup
        self._gate = gate
        self._settings = lookup.settings
        self._events: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.id = "?"
        self.language = lookup.settings.languages[0]

    # ------------------------------------------------------------------ transport

    async def _pump(self) -> None:
        """Read frames into the event queue; None marks the end of the call."""
        idle = self._settings.ivr_idle_seconds
        try:
            while True:
                try:  # Asterisk sends a frame every 20 ms while a call is up: silence means it is gone
                    frame = await asyncio.wait_for(read_frame(self._reader), idle)
                except TimeoutError:
                    log.warning("call %s: no frame for %g s; ending the call", self.id, idle)
                    return
                if frame is None:
                    return
                if frame.kind == Kind.ERROR:
                    log.warning("call %s: Asterisk reported error %s", self.id, frame.payload.hex() or "-")
                    return
                if frame.kind == Kind.HANGUP:
                    return
                if frame.kind == Kind.DTMF or frame.kind in AUDIO_RATES:
                    self._events.put_nowait(frame)
                else:
                    log.info("call %s: ignored frame kind 0x%02x", self.id, frame.kind)
        except (ProtocolError, ConnectionError) as exc:
            log.warning("call %s: %s", self.id, exc)
        finally:
            self._events.put_nowait(None)

    def _take_nowait(self) -> Frame | None:
        """The next queued frame without waiting (None if none); raises when the call ended."""
        try:
            frame = self._events.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if frame is None:
            self._events.put_nowait(None)
            raise CallEndedError
        return frame

    async def _send(self, kind: int, payload: bytes = b"") -> None:
        if self._writer.is_closing():
            raise CallEndedError
        self._writer.write(encode(kind, payload))
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            raise CallEndedError from exc

    # ------------------------------------------------------------------ audio out

    async def _prompt_audio(self, prompt_id: str) -> bytes:
        resolved = self._lookup.prompts.resolve(prompt_id, self.language)
        if resolved is None:
            log.warning("call %s: no recording of %s in %s or its fallbacks", self.id, prompt_id, self.language)
            return b""
        cache = self._settings.data_dir / "prompt-cache"
        mtime = resolved.path.stat().st_mtime_ns
        return await anyio.to_thread.run_sync(_slin, resolved.path, mtime, cache)

    async def play(self, prompt_ids: Iterable[str], tail: bytes = b"", barge_in: bool = False) -> str | None:
        """Send prompts (then `tail`) paced at real time; a key press stops it when `barge_in`."""
        pieces = [await self._prompt_audio(p) for p in prompt_ids] + [tail]
        audio = b"".join(p + bytes(-len(p) % FRAME_BYTES) for p in pieces)  # each starts on a frame
        speed = self._settings.ivr_playback_speed
        start = time.monotonic()
        for n, offset in enumerate(range(0, len(audio), FRAME_BYTES)):
            while (frame := self._take_nowait()) is not None:  # audio heard while speaking is dropped
                if barge_in and frame.kind == Kind.DTMF:
                    return frame.payload.decode("ascii", "replace")[:1]
            chunk = audio[offset : offset + FRAME_BYTES]
            await self._send(Kind.SLIN8, chunk.ljust(FRAME_BYTES, b"\0"))
            if speed > 0:
                delay = start + (n + 1) * 0.02 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif n % 50 == 0:
                await asyncio.sleep(0)
        return None

    # ------------------------------------------------------------------ audio in

    async def listen(self, no_input_s: float, digits_only: bool = False) -> Heard | None:
        """One utterance (ended by a pause) or one key press; None when nothing came in time."""
        while self._take_nowait() is not None:  # stale audio from before the beep
            pass
        s = self._settings
        chunks: list[np.ndarray] = []
        preroll: deque[np.ndarray] = deque(maxlen=int(PREROLL_S / 0.02))  # Whisper needs a lead-in
        heard_s = silence_s = speech_s = 0.0
        rate = RATE
        deadline = time.monotonic() + no_input_s + 2.0  # also when Asterisk stops sending audio
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            try:
                frame = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                break
            if frame is None:
                self._events.put_nowait(None)
                raise CallEndedError
            if frame.kind == Kind.DTMF:
                return Heard(digit=frame.payload.decode("ascii", "replace")[:1])
            if digits_only:
                heard_s += len(frame.payload) / 2 / AUDIO_RATES[Kind(frame.kind)]
                if heard_s >= no_input_s:
                    break
                continue
            rate = AUDIO_RATES[Kind(frame.kind)]
            samples = np.frombuffer(frame.payload[: len(frame.payload) // 2 * 2], dtype="<i2")
            seconds = len(samples) / rate
            if frame_rms(samples) >= SPEECH_RMS:
                if speech_s == 0:
                    chunks = list(preroll)
                speech_s += seconds
                silence_s = 0.0
            else:
                silence_s += seconds
            if speech_s > 0:
                chunks.append(samples)
                heard_s += seconds
                if (silence_s >= END_PAUSE_S and speech_s >= MIN_SPEECH_S) or heard_s >= s.ivr_max_utterance_seconds:
                    return Heard(pcm=np.concatenate(chunks), rate=rate)
                if silence_s >= END_PAUSE_S:  # a click or a cough: start over
                    chunks, heard_s, speech_s = [], 0.0, 0.0
                    preroll.clear()
            else:
                preroll.append(samples)
                heard_s += seconds
                if heard_s >= no_input_s:
                    break
                deadline = max(deadline, time.monotonic() + 2.0)
        if speech_s >= MIN_SPEECH_S:
            return Heard(pcm=np.concatenate(chunks), rate=rate)
        return None

    async def transcribe(self, heard: Heard) -> Transcript | None:
        engine = self._lookup.transcriber
        if engine is None or heard.pcm is None:
            return None
        samples = heard.pcm
        if heard.rate != engine.sample_rate:  # telephone audio goes up to the model's rate
            samples = soxr.resample(samples, heard.rate, engine.sample_rate).astype(np.int16)
        transcript: Transcript = await self._gate.run(engine.transcribe, Pcm(samples, engine.sample_rate), wait=True)
        return transcript

    # ------------------------------------------------------------------ dialogue

    async def choose_language(self) -> None:
        languages = self._lookup.languages.enabled()
        if len(languages) < 2:
            return
        prompts = ["sys-choose-language"]
        menu: list[str] = []
        for number, lang in enumerate(languages[:9], start=1):
            menu += [f"{language_prompt_id(lang.code)}@{lang.code}", f"sys-press-{number}@{lang.code}"]
        digit = await self._play_mixed(prompts + menu)
        for _ in range(2):
            if digit is None:
                heard = await self.listen(self._settings.ivr_menu_seconds, digits_only=True)
                digit = heard.digit if heard else None
            if digit and digit.isdigit() and 1 <= int(digit) <= min(len(languages), 9):
                self.language = languages[int(digit) - 1].code
                return
            if digit is None:
                return  # no key: the default language
            digit = await self._play_mixed(menu)  # a wrong key: the menu once more

    async def _play_mixed(self, items: list[str]) -> str | None:
        """Prompts written `id@lang` play in that language (each language names itself)."""
        chosen = self.language
        try:
            for item in items:
                prompt_id, _, lang = item.partition("@")
                self.language = lang or chosen
                digit = await self.play([prompt_id], barge_in=True)
                if digit is not None:
                    return digit
            return None
        finally:
            self.language = chosen

    async def clarify(self, codes: list[str]) -> str | None:
        """Read out 2-3 choices, each with its key; the chosen code, or None."""
        by_code = self._lookup.corpus.by_code()
        items = ["sys-clarify"]
        for number, code in enumerate(codes, start=1):
            items += [title_prompt_id(by_code[code].prompt_id), f"sys-press-{number}"]
        digit = await self._play_mixed(items)
        if digit is None:
            heard = await self.listen(self._settings.ivr_choice_seconds, digits_only=True)
            digit = heard.digit if heard else None
        if digit and digit.isdigit() and 1 <= int(digit) <= len(codes):
            return codes[int(digit) - 1]
        return None

    async def run(self, call_uuid: str) -> None:
        """The dialogue of a call whose UUID frame has been read."""
        self.id = call_uuid
        pump = asyncio.create_task(self._pump())
        try:
            await self._dialogue()
        except CallEndedError:
            log.info("call %s: caller hung up", self.id)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _dialogue(self) -> None:
        lookup = self._lookup
        if not lookup.ready or lookup.transcriber is None:
            await self.play(["sys-busy"])
            await self.hang_up()
            return
        await self.choose_language()
        log.info("call %s: language %s", self.id, self.language)
        prompt, misses, last_answer = "sys-greeting", 0, None
        for _turn in range(self._settings.ivr_max_turns):
            await self.play([prompt], tail=beep())
            prompt = "sys-ask-again"
            heard = await self.listen(self._settings.ivr_no_input_seconds)
            heard_at = time.perf_counter()
            if heard is not None and heard.digit is not None:
                if heard.digit == "0" and last_answer:  # 0: hear the last answer again
                    await self.play([last_answer])
                continue
            transcript = await self.transcribe(heard) if heard is not None else None
            reply = None
            if transcript is not None:
                log.info("call %s: %.1f s of speech -> %r", self.id, transcript.duration_s, transcript.text)
                turn = partial(
                    take_turn,
                    language=self.language,
                    channel=Channel.IVR,
                    limit=self._settings.clarify_max_candidates,
                    started=heard_at,
                    heard=transcript,
                    call_id=self.id,
                )
                reply = await anyio.to_thread.run_sync(turn, lookup, transcript.text)
                await anyio.to_thread.run_sync(record_turn, reply, self._query_log, self._metrics)
            if reply is None or not reply.question:
                misses += 1
                if misses >= 2:
                    break
                await self.play([replies.NOT_UNDERSTOOD_PROMPT])
                continue
            misses = 0
            log.info("call %s: heard %r -> %s", self.id, reply.question, reply.decision.value)
            if reply.decision is Decision.ANSWER:
                last_answer = reply.prompt_id
                await self.play([last_answer])
            elif reply.decision is Decision.CLARIFY:
                code = await self.clarify([c.code for c in reply.choices])
                if code is None:
                    await self.play([replies.NOT_UNDERSTOOD_PROMPT])
                    continue
                last_answer = lookup.corpus.by_code()[code].prompt_id
                await self.play([last_answer])
            else:
                await self.play([reply.prompt_id])
        await self.play(["sys-goodbye"])
        await self.hang_up()

    async def hang_up(self) -> None:
        with contextlib.suppress(CallEndedError):
            await self._send(Kind.HANGUP)
        self._writer.close()


class AudioSocketServer:
    """Accepts Asterisk's connections; refuses calls beyond the limit with the 'busy' prompt.

    A connection is a call only once it has sent its UUID frame, within
    `ivr_first_frame_seconds`; until then it holds no call slot, and one address may have only
    `ivr_max_pending_per_address` such connections, so silent sockets cannot lock callers out.
    """

    def __init__(
        self, lookup: Lookup, gate: SpeechGate, query_log: QueryLog | None = None, metrics: Metrics | None = None
    ) -> None:
        self._lookup = lookup
        self._gate = gate
        self._query_log = query_log
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self._calls: dict[asyncio.Task[None], str] = {}  # call task -> peer address
        self._pending: Counter[str] = Counter()

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        log.info("AudioSocket server listening on %s:%d", host, port)

    async def _handshake(self, reader: asyncio.StreamReader, peer: str) -> str | None:
        """The call's UUID, or None when the connection sent nothing valid in time."""
        settings = self._lookup.settings
        if self._pending[peer] >= settings.ivr_max_pending_per_address:
            log.warning("AudioSocket: %s already has %d connections without a UUID; refused", peer, self._pending[peer])
            return None
        self._pending[peer] += 1
        try:
            first = await asyncio.wait_for(read_frame(reader), settings.ivr_first_frame_seconds)
            return call_id(first) if first is not None else None
        except TimeoutError:
            log.warning("AudioSocket: %s sent no UUID frame in %g s; closed", peer, settings.ivr_first_frame_seconds)
            return None
        except (ProtocolError, ConnectionError) as exc:
            log.warning("AudioSocket: %s: %s", peer, exc)
            return None
        finally:
            self._pending[peer] -= 1
            if self._pending[peer] <= 0:
                del self._pending[peer]

    def _over_limit(self, peer: str) -> bool:
        settings = self._lookup.settings
        if len(self._calls) > settings.ivr_max_calls:
            return True
        cap = settings.ivr_max_calls_per_address
        return cap is not None and sum(1 for p in self._calls.values() if p == peer) > cap

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if peername else "unknown"
        call = Call(reader, writer, self._lookup, self._gate, self._query_log, self._metrics)
        try:
            call_uuid = await self._handshake(reader, peer)
            if call_uuid is None:
                return
            call.id = call_uuid
            self._calls[task] = peer
            if self._over_limit(peer):
                await call.play(["sys-busy"])
                await call.hang_up()
                return
            await call.run(call_uuid)
        except CallEndedError:
            pass
        except (ProtocolError, ConnectionError) as exc:
            log.warning("call %s: %s", call.id, exc)
        except Exception:  # one broken call must not take the server down
            log.exception("call %s failed", call.id)
        finally:
            self._calls.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting, let calls in progress finish for `grace_s`, then cut the rest."""
        if self._server is not None:
            self._server.close()
        if self._calls:
            _done, pending = await asyncio.wait(set(self._calls), timeout=grace_s)
            for task in pending:
                task.cancel()
