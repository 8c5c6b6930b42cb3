"""WebSocket /v1/stream: the vosk-server protocol with a real client over a real uvicorn server."""

import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from service.offline.model_prepare import packaged_vosk_model
from tests.conftest import BUILTIN_CORPUS
from tests.server import live_server
from tests.speech import convert, espeak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vosk_url(tmp_path_factory) -> Iterator[str]:
    env = {
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "vosk",
        "TTHC_VOSK_MODEL": str(packaged_vosk_model()),
        "TTHC_MAX_STREAMS": "3",
        "TTHC_MAX_STREAMS_PER_CLIENT": "3",  # every test client is 127.0.0.1; tests/test_intake.py tests the cap
        "TTHC_CORPUS_PATH": str(BUILTIN_CORPUS),
        "TTHC_STREAM_MAX_FRAME_BYTES": "8192",  # small, so the frame-size test needs no megabyte
    }
    with live_server(env, tmp_path_factory.mktemp("ws")) as base:
        yield base.replace("http://", "ws://") + "/v1/stream"


@pytest.fixture(scope="module")
def korean_pcm(tmp_path_factory) -> dict[int, bytes]:
    d = tmp_path_factory.mktemp("ko")
    wav = espeak("안녕하세요", d / "ko.wav", voice="ko", speed=140)
    out = {}
    for rate in (8000, 16000):
        raw = convert(wav, d / f"ko{rate}.raw", "-f", "s16le", "-ar", str(rate), "-ac", "1")
        out[rate] = raw.read_bytes() + bytes(rate)  # half a second of silence after the word
    return out


def _frames(pcm: bytes, size: int = 3200) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def test_telephony_client_without_config_gets_one_reply_per_frame(vosk_url, korean_pcm):
    frames = _frames(korean_pcm[8000])  # 8 kHz, 200 ms frames, as Asterisk sends
    replies = []
    with connect(vosk_url) as ws:
        for frame in frames:
            ws.send(frame)
            replies.append(json.loads(ws.recv()))
        ws.send('{"eof" : 1}')
        final = json.loads(ws.recv())
        match = json.loads(ws.recv())
    assert len(replies) == len(frames)
    assert all(("partial" in r) != ("text" in r) for r in replies)
    assert "text" in final
    heard = " ".join(r["text"] for r in [*replies, final] if r.get("text"))
    assert heard, "the Korean model recognised nothing"
    body = match["match"]
    assert body["asr"]["engine"] == "vosk" and body["transcript"] == heard
    # Korean words match no Vietnamese procedure: the caller is told so, nothing is answered
    assert body["decision"] == "out_of_scope" and body["channel"] == "ivr", body
    assert body["asr"]["duration_s"] == pytest.approx(len(korean_pcm[8000]) / 2 / 8000, rel=0.01)


def test_config_with_phrase_list_restricts_the_result(vosk_url, korean_pcm):
    with connect(vosk_url) as ws:
        ws.send(json.dumps({"config": {"sample_rate": 16000, "phrase_list": ["감사합니다", "안녕하세요"], "words": 1}}))
        texts = []
        for frame in _frames(korean_pcm[16000], 6400):
            ws.send(frame)
            reply = json.loads(ws.recv())
            if reply.get("text"):
                texts.append(reply["text"])
                assert reply["result"][0]["word"] == "안녕하세요"
        ws.send(json.dumps({"eof": 1}))
        final = json.loads(ws.recv())
        json.loads(ws.recv())
    texts += [final["text"]] if final.get("text") else []
    assert texts == ["안녕하세요"]


def test_reset_gives_a_final_result_and_keeps_the_stream(vosk_url, korean_pcm):
    with connect(vosk_url) as ws:
        for frame in _frames(korean_pcm[8000])[:3]:
            ws.send(frame)
            ws.recv()
        ws.send('{"reset": 1}')
        assert "text" in json.loads(ws.recv())
        ws.send(_frames(korean_pcm[8000])[0])
        assert set(json.loads(ws.recv())) <= {"partial", "text", "result"}
        ws.send('{"eof": 1}')
        assert "text" in json.loads(ws.recv())
        assert "match" in json.loads(ws.recv())


def test_bad_messages_get_errors_not_a_crash(vosk_url):
    with connect(vosk_url) as ws:
        ws.send("not json")
        assert "error" in json.loads(ws.recv())
        ws.send(json.dumps({"config": {"sample_rate": 12345}}))
        assert "unsupported sample_rate" in json.loads(ws.recv())["error"]
        ws.send(json.dumps({"config": {"sample_rate": "fast"}}))
        assert "unsupported sample_rate" in json.loads(ws.recv())["error"]
        ws.send("[1, 2]")
        assert "JSON objects" in json.loads(ws.recv())["error"]
        ws.send(b"\x01")  # odd byte count: half a sample is dropped, not fatal
        assert "partial" in json.loads(ws.recv())
        ws.send('{"eof": 1}')
        assert json.loads(ws.recv())["text"] == ""
        assert json.loads(ws.recv())["match"]["decision"] == "out_of_scope"


def test_a_frame_above_the_configured_size_closes_the_stream_with_1009(vosk_url):
    with connect(vosk_url) as ws:
        ws.send(b"\x00\x00" * 4096)  # exactly the limit: taken
        assert "partial" in json.loads(ws.recv())
        ws.send(b"\x00\x00" * 4097)
        assert "at most 8192 bytes" in json.loads(ws.recv())["error"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with connect(vosk_url) as again:  # the service keeps serving
        again.send(b"\x00\x00" * 1600)
        assert "partial" in json.loads(again.recv())


def test_streams_beyond_the_limit_are_refused(vosk_url):
    with ExitStack() as stack:
        held = [stack.enter_context(connect(vosk_url)) for _ in range(3)]
        for ws in held:
            ws.send(b"\x00\x00" * 1600)
            ws.recv()
        with connect(vosk_url) as extra:
            assert "too many streams" in json.loads(extra.recv())["error"]
    with connect(vosk_url) as again:  # freed slots are usable again
        again.send(b"\x00\x00" * 1600)
        assert "partial" in json.loads(again.recv())


def test_whisper_decodes_each_utterance_behind_the_same_protocol(builtin_client, tmp_path):
    wav = espeak("đăng ký kết hôn", tmp_path / "q.wav", speed=120)
    pcm = convert(wav, tmp_path / "q.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    pause = bytes(2 * 16000)  # one second of silence ends the first utterance
    finals = []
    with builtin_client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"config": {"sample_rate": 16000, "channel": "web"}}))
        for frame in _frames(pcm + pause + pcm, 6400):
            ws.send_bytes(frame)
            reply = json.loads(ws.receive_text())
            if "text" in reply:
                finals.append(reply)
            else:
                assert reply == {"partial": ""}
        ws.send_text('{"eof": 1}')
        finals.append(json.loads(ws.receive_text()))
        match = json.loads(ws.receive_text())["match"]
    texts = [f["text"] for f in finals if f["text"]]
    assert len(texts) == 2, finals  # one result per utterance
    assert match["asr"]["engine"] == "whisper" and match["channel"] == "web"
    assert match["transcript"] == " ".join(texts)


def test_whisper_stream_ignores_trailing_silence(builtin_client, tmp_path):
    """Silence after the last pause must not reach Whisper, which would invent words for it."""
    wav = espeak("đăng ký kết hôn", tmp_path / "q.wav", speed=120)
    pcm = convert(wav, tmp_path / "q.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    finals = []
    with builtin_client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"config": {"sample_rate": 16000, "language": "hmn"}}))
        for frame in _frames(pcm + bytes(2 * 16000 * 3), 3200):  # speech, then 3 s of silence
            ws.send_bytes(frame)
            reply = json.loads(ws.receive_text())
            if "text" in reply:
                finals.append(reply)
        ws.send_text('{"eof": 1}')
        finals.append(json.loads(ws.receive_text()))
        match = json.loads(ws.receive_text())["match"]
    assert [bool(f["text"]) for f in finals] == [True, False], finals
    assert match["transcript"] == finals[0]["text"]
