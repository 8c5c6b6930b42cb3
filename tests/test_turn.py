"""One turn for every channel: the same question gets the same reply, logged the same way."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.matching.matcher import Decision
from service.params import Channel
from service.speech.asr import Transcript
from service.turn import take_turn
from tests.speech import convert, espeak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site_client(synthesized_site: Path, tmp_path_factory) -> TestClient:
    settings = Settings(
        corpus_path=synthesized_site / "procedures.jsonl",
        prompts_dir=synthesized_site / "prompts",
        data_dir=tmp_path_factory.mktemp("turn"),
        use_embeddings=False,
        asr_engine="whisper",
        rate_limit_per_minute=0,
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        yield client


def test_take_turn_answers_asks_back_and_asks_again_when_nothing_was_heard(site_client):
    lookup = site_client.app.state.runtime.lookup
    started = time.perf_counter()
    answer = take_turn(lookup, "đăng ký kết hôn", language="hmn", channel="kiosk", limit=5, started=started)
    assert answer.decision is Decision.ANSWER and answer.answer_code == "1.000894"
    assert answer.prompt_id == "p-1-000894"
    assert answer.answer_text == lookup.corpus.by_code()["1.000894"].answer_vi
    assert (answer.language, answer.served_language) == ("hmn", "vi")  # no H'Mông recording: Vietnamese
    assert answer.answer_audio_url == "/v1/prompts/vi/p-1-000894?format=wav16k"
    assert answer.entry.input == "text" and answer.entry.top_codes[0] == "1.000894" and answer.entry.latency_ms > 0

    strict = lookup.settings.model_copy(update={"answer_min_confidence": 1.0, "clarify_min_confidence": 0.0})
    lookup_strict = dataclasses.replace(lookup, settings=strict)  # every confident match asks back
    asked = take_turn(lookup_strict, "đăng ký khai sinh", language="vi", channel=Channel.IVR, limit=5, started=started)
    assert asked.decision is Decision.CLARIFY and asked.prompt_id == "sys-clarify"
    assert 2 <= len(asked.choices) <= strict.clarify_max_candidates and asked.answer_code is None
    assert all(c.title_audio_url and c.title_audio_url.endswith("-title?format=ulaw8k") for c in asked.choices)

    heard = Transcript("", "whisper", 0.0, 1.5, 0.3)
    empty = take_turn(lookup, "", language="vi", channel="web", limit=5, started=started, heard=heard, call_id="c1")
    assert empty.decision is Decision.OUT_OF_SCOPE and empty.choices == [] and empty.prompt_id == "sys-not-understood"
    assert (empty.entry.input, empty.entry.asr_engine, empty.entry.call_id) == ("speech", "whisper", "c1")


def test_one_syllable_out_of_seconds_of_speech_is_asked_again_not_matched(site_client):
    lookup = site_client.app.state.runtime.lookup
    limit = lookup.settings.asr_one_word_voiced_seconds
    started = time.perf_counter()
    said_briefly = Transcript("hôn", "vietasr", 0.0, 2.0, 0.2, voiced_s=0.4)  # someone said one word
    matched = take_turn(lookup, "hôn", language="vi", channel="web", limit=5, started=started, heard=said_briefly)
    assert matched.prompt_id != "sys-not-understood" and matched.choices  # a short word is still looked up
    lost = Transcript("hôn", "vietasr", 0.0, 6.0, 0.9, voiced_s=limit + 1.0)  # seconds of speech, one syllable out
    again = take_turn(lookup, "hôn", language="vi", channel="web", limit=5, started=started, heard=lost)
    assert again.prompt_id == "sys-not-understood" and again.choices == [] and again.answer_code is None
    assert again.entry.text == "hôn"  # the log keeps what was heard
    unknown = Transcript("hôn", "stream", 0.0, 6.0, 0.9)  # no voiced measure: no guard
    assert take_turn(lookup, "hôn", language="vi", channel="web", limit=5, started=started, heard=unknown).choices
    two = Transcript("kết hôn", "vietasr", 0.0, 6.0, 0.9, voiced_s=limit + 1.0)
    assert take_turn(lookup, "kết hôn", language="vi", channel="web", limit=5, started=started, heard=two).choices


def test_every_channel_gives_the_same_reply_to_the_same_spoken_question(site_client, tmp_path):
    wav = espeak("đăng ký kết hôn", tmp_path / "q.wav", speed=120)
    pcm16k = convert(wav, tmp_path / "q.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    pcm16k += bytes(16000)  # half a second of silence after the question
    upload = site_client.post("/v1/query", content=wav.read_bytes(), headers={"content-type": "audio/wav"})
    assert upload.status_code == 200, upload.text
    uploaded = upload.json()
    turn = site_client.post(
        "/v1/ivr/turn",
        params={"call_id": "call-7"},
        files={"audio": ("q.wav", wav.read_bytes(), "audio/x-wav")},
        headers={"accept": "application/json"},
    ).json()
    with site_client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"config": {"sample_rate": 16000, "channel": "web"}}))
        for i in range(0, len(pcm16k), 3200):
            ws.send_bytes(pcm16k[i : i + 3200])
            ws.receive_json()
        ws.send_text('{"eof": 1}')
        while "match" not in (message := ws.receive_json()):
            pass
    streamed = message["match"]

    assert uploaded["decision"] == turn["decision"] == streamed["decision"] == "answer"
    assert uploaded["matches"][0]["code"] == streamed["matches"][0]["code"] == "1.000894"
    assert turn["answer_text"] == uploaded["answer_text"] == streamed["answer_text"]
    assert turn["served_language"] == uploaded["language"] == streamed["language"] == "vi"
    assert turn["answer_audio_url"] == "/v1/prompts/vi/p-1-000894?format=ulaw8k"

    rows = site_client.app.state.runtime.query_log.rows()[-3:]
    assert [(r["channel"], r["input"], r["decision"]) for r in rows] == [
        ("kiosk", "speech", "answer"),
        ("ivr", "speech", "answer"),
        ("web", "speech", "answer"),
    ]
    assert all(r["asr_engine"] == "whisper" and r["top_codes"].startswith("1.000894") for r in rows)
    assert rows[1]["call_id"] == "call-7" and all(r["latency_ms"] > 0 for r in rows)
    metrics = site_client.get("/metrics").text
    assert 'tthc_asr_real_time_factor_count{engine="whisper"} 3.0' in metrics
