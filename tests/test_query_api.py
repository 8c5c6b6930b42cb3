"""Spoken queries over HTTP: real audio, real engines, every bad-audio class."""

import io
import subprocess
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.matching.textnorm import normalize
from service.offline.model_prepare import packaged_vosk_model
from tests.conftest import BUILTIN_CORPUS
from tests.speech import espeak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory) -> bytes:
    return espeak("đăng ký kết hôn", tmp_path_factory.mktemp("q") / "q.wav", speed=120).read_bytes()


def test_multipart_query_runs_whisper_then_matching(builtin_client, question_wav):
    res = builtin_client.post(
        "/v1/query", files={"audio": ("q.wav", question_wav, "audio/wav")}, params={"channel": "kiosk"}
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["asr"]["engine"] == "whisper"
    assert 1.0 < body["asr"]["duration_s"] < 4.0 and body["asr"]["rtf"] > 0
    assert body["transcript"]
    assert body["normalized_query"] == normalize(body["transcript"]).accented
    assert body["decision"] == "answer" and body["matches"][0]["code"] == "1.000894", body  # đăng ký kết hôn
    assert body["channel"] == "kiosk" and body["answer_audio_url"] is None
    row = builtin_client.app.state.runtime.query_log.rows()[-1]  # logged as a spoken question
    assert (row["input"], row["asr_engine"], row["channel"]) == ("speech", "whisper", "kiosk")
    assert row["text"] == body["transcript"]
    metrics = builtin_client.get("/metrics").text
    assert 'tthc_asr_real_time_factor_count{engine="whisper"}' in metrics


def test_raw_body_query_with_content_type(builtin_client, question_wav):
    res = builtin_client.post("/v1/query", content=question_wav, headers={"content-type": "audio/wav"})
    assert res.status_code == 200, res.text
    assert res.json()["asr"]["engine"] == "whisper"


def _silent_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000, np.int16).tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("content", "ctype", "status", "words"),
    [
        (b"", "audio/wav", 400, "empty"),
        (b"not audio" * 100, "audio/wav", 400, "could not be decoded"),
        (None, "audio/wav", 400, "silent"),
        (b"RIFF" + b"\x00" * 40, "audio/wav", 400, ""),
        (b"hello", "text/plain", 415, "unsupported"),
        (b"\x00\x01" * 100, "audio/L16", 400, "sample rate"),
    ],
)
def test_bad_audio_is_a_clear_4xx_and_the_service_keeps_serving(builtin_client, content, ctype, status, words):
    res = builtin_client.post(
        "/v1/query", content=_silent_wav() if content is None else content, headers={"content-type": ctype}
    )
    assert res.status_code == status, res.text
    assert words in res.json()["error"]
    assert builtin_client.post("/v1/search", json={"text": "khai sinh"}).status_code == 200


def test_upload_limits(builtin_settings, question_wav):
    settings = builtin_settings.model_copy(update={"max_audio_bytes": 200_000, "max_audio_seconds": 1.0})
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        big = client.post("/v1/query", content=b"\x00" * 300_000, headers={"content-type": "audio/wav"})
        assert big.status_code == 413
        long = client.post("/v1/query", content=question_wav, headers={"content-type": "audio/wav"})
        assert long.status_code == 413 and "limit of 1 s" in long.json()["error"]
        missing = client.post("/v1/query", files={"other": ("x.wav", b"x", "audio/wav")})
        assert missing.status_code == 422 and "audio" in missing.json()["error"]
        bad_channel = client.post(
            "/v1/query", params={"channel": "fax"}, content=question_wav, headers={"content-type": "audio/wav"}
        )
        assert bad_channel.status_code == 422


def test_vosk_engine_behind_the_same_endpoint(tmp_path):
    """The Vosk path end to end with the real Korean model (no Vietnamese Vosk model exists here)."""
    settings = Settings(
        corpus_path=BUILTIN_CORPUS,
        use_embeddings=False,
        data_dir=tmp_path,
        asr_engine="vosk",
        vosk_model=str(packaged_vosk_model()),
    )
    korean = espeak("안녕하세요", tmp_path / "ko.wav", voice="ko", speed=140).read_bytes()
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        assert client.get("/readyz").json()["asr_engine"] == "vosk"
        body = client.post("/v1/query", files={"audio": ("ko.wav", korean, "audio/wav")}).json()
        assert body["asr"]["engine"] == "vosk" and body["transcript"]
        assert 0.0 < body["asr"]["confidence"] <= 1.0


def test_query_is_503_when_speech_is_disabled(tmp_path):
    settings = Settings(corpus_path=BUILTIN_CORPUS, use_embeddings=False, data_dir=tmp_path, asr_engine="none")
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        res = client.post("/v1/query", content=b"x", headers={"content-type": "audio/wav"})
        assert res.status_code == 503 and "disabled" in res.json()["error"]


@pytest.fixture(scope="module")
def broken_audio(question_wav, tmp_path_factory) -> list[tuple[str, bytes, str]]:
    """A fuzz corpus: one real clip in five containers, each cut short, bit-flipped and re-headed."""
    from tests.speech import convert

    tmp = tmp_path_factory.mktemp("fuzz")
    source = tmp / "q.wav"
    source.write_bytes(question_wav)
    containers = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "webm": "audio/webm"}
    containers["flac"] = "audio/flac"
    rng = np.random.default_rng(7)
    corpus = []
    for suffix, ctype in containers.items():
        data = (source if suffix == "wav" else convert(source, tmp / f"q.{suffix}")).read_bytes()
        corpus.append((f"{suffix}-cut-header", data[:20], ctype))
        corpus.append((f"{suffix}-cut-half", data[: len(data) // 2], ctype))
        flipped = bytearray(data)
        for i in rng.integers(0, len(data), size=max(8, len(data) // 200)):
            flipped[i] ^= 0xFF
        corpus.append((f"{suffix}-bit-flips", bytes(flipped), ctype))
        corpus.append((f"{suffix}-no-header", data[len(data) // 3 :], ctype))
        corpus.append((f"{suffix}-as-other-type", data, "audio/amr"))
    # Requests for other resources and decompression bombs (tests/test_intake.py goes deeper).
    hls = b"#EXTM3U\n#EXTINF:10.0,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n"
    corpus.append(("hls-playlist", hls, "application/octet-stream"))
    corpus.append(("dash-manifest", b'<?xml version="1.0"?><MPD><BaseURL>http://127.0.0.1:9/</BaseURL></MPD>', ""))
    corpus.append(("concat-list", b"ffconcat version 1.0\nfile '/etc/hostname'\n", "audio/mp4"))
    for name, args in [("flac-bomb", ["-c:a", "flac"]), ("opus-bomb", ["-c:a", "libopus", "-b:a", "16k"])]:
        bomb = tmp / f"{name}.{'flac' if 'flac' in name else 'ogg'}"
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "300"]
            + [*args, str(bomb)],
            check=True,
        )
        corpus.append((name, bomb.read_bytes(), "application/octet-stream"))
    return corpus


def test_broken_audio_corpus_never_gets_a_5xx(builtin_client, broken_audio):
    statuses = {}
    for name, data, ctype in broken_audio:
        res = builtin_client.post("/v1/query", content=data, headers={"content-type": ctype})
        statuses[name] = res.status_code
        assert res.status_code < 500, (name, res.text)
        assert "error" in res.json() or res.status_code == 200, name
    assert any(s == 400 for s in statuses.values())  # most of it is refused, clearly
    assert [statuses[k] for k in ("hls-playlist", "dash-manifest", "concat-list")] == [415] * 3
    assert statuses["flac-bomb"] == statuses["opus-bomb"] == 413
    assert builtin_client.get("/readyz").status_code == 200  # and the worker keeps serving
