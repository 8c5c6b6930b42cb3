"""Streaming recognition sessions that speak the vosk-server WebSocket protocol.

Telephony clients (Asterisk res_speech_vosk, FreeSWITCH mod_vosk, unimrcp) send 16-bit PCM
frames, often at 8 kHz and without any config message; they expect one JSON reply per frame:
`{"partial": ...}` or, at an endpoint, `{"text": ..., "result": [...]}`. Audio is resampled
on the fly to the model's rate. viet-asr streams natively and takes any rate as it is.
Whisper is not streaming: it decodes each utterance when a pause or the end of stream closes
it, and answers empty partials meanwhile.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np
import soxr

from service.speech.asr import Transcriber, VietAsrTranscriber, VoskTranscriber, Word
from service.speech.audio import Pcm

FRAME_SILENCE_RMS = 300.0  # int16 RMS below which a frame counts as silence (streams and calls)
PAUSE_SECONDS = 0.8  # silence after speech that ends a question (streams and calls)


def frame_rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


class StreamSession(Protocol):
    def feed(self, pcm: bytes) -> dict[str, Any]: ...

    def finish(self) -> dict[str, Any]: ...


def _word_json(w: Word) -> dict[str, Any]:
    return {"conf": round(w.conf, 6), "start": round(w.start, 3), "end": round(w.end, 3), "word": w.word}


class _Resampler:
    def __init__(self, source_rate: int, target_rate: int) -> None:
        self._stream = (
            soxr.ResampleStream(source_rate, target_rate, 1, dtype="int16") if source_rate != target_rate else None
        )

    def __call__(self, pcm: bytes, last: bool = False) -> np.ndarray:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        if self._stream is None:
            return samples
        out: np.ndarray = self._stream.resample_chunk(samples, last=last)
        return out


class VoskStreamSession:
    def __init__(
        self,
        engine: VoskTranscriber,
        client_rate: int,
        phrase_list: list[str] | None = None,
        max_utterance_s: float = 30.0,
    ) -> None:
        self._rec = engine.recognizer(phrase_list)
        self._resample = _Resampler(client_rate, engine.sample_rate)
        self.audio_seconds = 0.0
        self._rate = engine.sample_rate
        self._max_utterance_s = max_utterance_s
        self._utterance_s = 0.0

    def feed(self, pcm: bytes) -> dict[str, Any]:
        samples = self._resample(pcm)
        seconds = len(samples) / self._rate
        self.audio_seconds += seconds
        self._utterance_s += seconds
        if self._rec.AcceptWaveform(samples.astype("<i2").tobytes()):
            self._utterance_s = 0.0
            return dict(json.loads(self._rec.Result()))
        if self._utterance_s >= self._max_utterance_s:  # no endpoint in sight: close it as an upload would
            self._utterance_s = 0.0
            result = dict(json.loads(self._rec.FinalResult()))
            result.setdefault("text", "")
            return result
        return {"partial": json.loads(self._rec.PartialResult()).get("partial", "")}

    def finish(self) -> dict[str, Any]:
        tail = self._resample(b"", last=True)
        if len(tail):
            self._rec.AcceptWaveform(tail.astype("<i2").tobytes())
        result = dict(json.loads(self._rec.FinalResult()))
        result.setdefault("text", "")
        return result


class PauseDetector:
    """Speech, then `PAUSE_SECONDS` of frames under `FRAME_SILENCE_RMS`: the speaker stopped."""

    def __init__(self) -> None:
        self.heard_speech = False
        self.silent_run = 0.0

    def update(self, samples: np.ndarray, seconds: float) -> bool:
        if frame_rms(samples) >= FRAME_SILENCE_RMS:
            self.heard_speech, self.silent_run = True, 0.0
        else:
            self.silent_run += seconds
        return self.heard_speech and self.silent_run >= PAUSE_SECONDS

    def clear(self) -> None:
        self.heard_speech, self.silent_run = False, 0.0


class VietAsrStreamSession:
    """True streaming: the engine's partial as each frame arrives; a final when the speaker
    pauses, at the utterance limit, or at eof.

    viet-asr marks a closed segment with a newline in its text, but only about two seconds
    into the next segment's speech, never on silence alone: it cannot tell that a question
    ended, so the same pause rule as for Whisper does (measured in docs/speech.md).
    Any client rate is taken as it is; viet-asr gives no word timings, so "result" is empty.
    """

    def __init__(self, engine: VietAsrTranscriber, client_rate: int, max_utterance_s: float = 30.0) -> None:
        self._session = engine.session(client_rate)
        self._rate = client_rate
        self._max_utterance_s = max_utterance_s
        self._utterance_s = 0.0
        self._pause = PauseDetector()
        self.audio_seconds = 0.0

    def _close(self) -> dict[str, Any]:
        text = " ".join(self._session.final().text.split())
        self._session.reset()
        self._utterance_s = 0.0
        self._pause.clear()
        return {"text": text, "result": []}

    def feed(self, pcm: bytes) -> dict[str, Any]:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        if not len(samples):
            return {"partial": ""}
        seconds = len(samples) / self._rate
        self.audio_seconds += seconds
        self._utterance_s += seconds
        self._session.accept(samples)
        paused = self._pause.update(samples, seconds)
        if paused or self._utterance_s >= self._max_utterance_s:
            return self._close()
        partial = " ".join(self._session.partial().text.split())
        if not self._pause.heard_speech and self._utterance_s > 2.0:
            self._session.reset()  # only silence so far: nothing to keep
            self._utterance_s = 0.0
        return {"partial": partial}

    def finish(self) -> dict[str, Any]:
        final = self._close()
        self._session.close()
        return final


class UtteranceStreamSession:
    """For non-streaming engines: buffer speech, decode when a pause or eof ends it."""

    def __init__(self, engine: Transcriber, client_rate: int, max_utterance_s: float = 30.0) -> None:
        self._engine = engine
        self._max_samples = int(max_utterance_s * engine.sample_rate)
        self._resample = _Resampler(client_rate, engine.sample_rate)
        self._rate = engine.sample_rate
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._pause = PauseDetector()
        self.audio_seconds = 0.0

    def _decode(self) -> dict[str, Any]:
        samples = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.int16)
        self._buffer, self._buffered = [], 0
        self._pause.clear()
        if len(samples) < self._rate // 4:
            return {"text": ""}
        transcript = self._engine.transcribe(Pcm(samples.astype(np.int16), self._rate))
        return {"text": transcript.text, "result": [_word_json(w) for w in transcript.words]}

    def feed(self, pcm: bytes) -> dict[str, Any]:
        samples = self._resample(pcm)
        if not len(samples):
            return {"partial": ""}
        seconds = len(samples) / self._rate
        self.audio_seconds += seconds
        self._buffer.append(samples)
        self._buffered += len(samples)
        if self._pause.update(samples, seconds):
            return self._decode()
        if self._pause.heard_speech and self._buffered >= self._max_samples:
            return self._decode()  # the same limit as an upload: never buffer minutes of speech
        if not self._pause.heard_speech and self._buffered > self._rate * 2:
            self._buffer = self._buffer[-5:]  # keep a little lead-in, drop long leading silence
            self._buffered = sum(len(b) for b in self._buffer)
        return {"partial": ""}

    def finish(self) -> dict[str, Any]:
        tail = self._resample(b"", last=True)
        if len(tail):
            self._buffer.append(tail)
        if not self._pause.heard_speech:
            # Only silence since the last utterance: Whisper would hallucinate words into it.
            self._buffer, self._buffered = [], 0
            self._pause.clear()
            return {"text": ""}
        return self._decode()


def open_session(
    engine: Transcriber, client_rate: int, phrase_list: list[str] | None, max_utterance_s: float
) -> StreamSession:
    """A session whose utterances are cut at `max_utterance_s`, like an upload."""
    if isinstance(engine, VietAsrTranscriber):
        return VietAsrStreamSession(engine, client_rate, max_utterance_s)
    if isinstance(engine, VoskTranscriber):
        return VoskStreamSession(engine, client_rate, phrase_list, max_utterance_s)
    return UtteranceStreamSession(engine, client_rate, max_utterance_s)


def parse_control(text: str) -> dict[str, Any]:
    """Text frames: config, eof or reset, in any JSON spelling (`{"eof" : 1}` included)."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"text frames must be JSON: {exc.msg}") from exc
    if not isinstance(message, dict):
        raise ValueError("text frames must be JSON objects")
    return message
