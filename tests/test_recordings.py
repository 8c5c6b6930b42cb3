"""Admin upload of human recordings: auth, validation of each bad-input class, versions, atomicity."""

import hashlib
import threading
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.conftest import SMALL_CORPUS, write_jsonl
from tests.speech import espeak, wav_bytes

KEY = "province-secret-key"


@pytest.fixture
def client(tmp_path):
    corpus = write_jsonl(tmp_path / "procedures.jsonl", SMALL_CORPUS[:2])
    settings = Settings(
        corpus_path=corpus,
        prompts_dir=tmp_path / "prompts",
        data_dir=tmp_path,
        use_embeddings=False,
        asr_engine="none",
        admin_api_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as c:
        yield c


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    # quiet leading/trailing silence around real speech, so trimming has work to do
    wav = espeak("đăng ký khai sinh cho con", tmp_path_factory.mktemp("r") / "s.wav")
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    pad = np.zeros(rate, np.int16)
    return wav_bytes(np.concatenate([pad, samples, pad]), rate)


def put(client, data, lang="hmn", prompt="p-1-001193", key=KEY, ctype="audio/wav"):
    headers = {"content-type": ctype}
    if key:
        headers["x-api-key"] = key
    return client.put(
        f"/v1/admin/prompts/{lang}/{prompt}", content=data, headers=headers, params={"recorded_by": "Giàng A Páo"}
    )


def test_auth_is_required(client, speech, tmp_path):
    assert put(client, speech, key=None).status_code == 401
    assert put(client, speech, key="wrong").status_code == 403
    settings = Settings(
        corpus_path=write_jsonl(tmp_path / "c.jsonl", SMALL_CORPUS[:1]),
        use_embeddings=False,
        asr_engine="none",
        data_dir=tmp_path,
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as disabled:
        res = disabled.put("/v1/admin/prompts/vi/p-1-001193", content=speech, headers={"x-api-key": KEY})
        assert res.status_code == 403 and "disabled" in res.json()["error"]


def test_upload_cleans_stores_and_serves(client, speech):
    quiet = speech[:44] + (np.frombuffer(speech[44:], "<i2") // 10).astype("<i2").tobytes()  # a distant speaker
    res = put(client, quiet)
    assert res.status_code == 200, res.text
    record = res.json()
    assert record["synthetic"] is False and record["recorded_by"] == "Giàng A Páo"
    assert record["language"] == "hmn" and record["text"].startswith("Để")
    original = len(speech) / 2 / 22050
    assert 0.5 < record["duration_s"] < original - 1.5  # about two seconds of silence trimmed
    audio = client.get("/v1/prompts/hmn/p-1-001193?format=wav16k")
    assert audio.status_code == 200 and audio.headers["x-prompt-synthetic"] == "false"
    assert audio.headers["x-prompt-language"] == "hmn"
    import pyloudnorm

    samples = np.frombuffer(audio.content[44:], "<i2").astype(np.float64) / 32768
    loudness = pyloudnorm.Meter(16000).integrated_loudness(samples)
    peak, limit = float(np.max(np.abs(samples))), 10 ** (-1.5 / 20)
    assert peak <= limit + 0.01
    # either at the -16 LUFS target, or raised as far as the -1.5 dBFS peak limit allows
    assert abs(loudness + 16.0) < 1.5 or (loudness < -16.0 and peak > limit - 0.03)
    original = np.frombuffer(quiet[44:], "<i2").astype(np.float64) / 32768
    assert loudness > pyloudnorm.Meter(22050).integrated_loudness(original) + 10.0  # it got much louder
    body = client.post("/v1/search", json={"text": "làm giấy khai sinh cho con", "language": "hmn"}).json()
    assert body["language"] == "hmn" and body["answer_audio_url"].startswith("/v1/prompts/hmn/p-1-001193")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: wav_bytes(np.zeros(16000 * 2, np.int16)), "silent"),
        (lambda: wav_bytes((3000 * np.sin(np.arange(3200) / 5)).astype(np.int16)), "only 0.20 s"),
        (lambda: wav_bytes((3000 * np.sin(np.arange(16000 * 121) / 5)).astype(np.int16)), "limit"),
        (lambda: wav_bytes(np.where(np.arange(32000) % 2 == 0, 32767, -32768).astype(np.int16)), "clipped"),
        (lambda: b"garbage" * 100, "could not be decoded"),
    ],
)
def test_bad_recordings_are_refused(client, make, words):
    res = put(client, make())
    assert res.status_code in (400, 413), res.text
    assert words in res.json()["error"]
    assert client.get("/v1/prompts/coverage").json()["languages"]["hmn"]["all"]["human"] == 0


def test_unknown_targets_and_path_tricks(client, speech):
    assert put(client, speech, lang="xx").status_code == 404
    assert put(client, speech, prompt="p-9-999999").status_code == 404
    assert put(client, speech, prompt="..%2F..%2Fetc").status_code in (404, 422)
    assert put(client, speech, prompt="sys-greeting").status_code == 200  # system prompts are recordable


def test_replace_keeps_previous_and_delete_restores(client, speech, tmp_path):
    first = put(client, speech).json()
    louder = speech[:44] + (np.frombuffer(speech[44:], "<i2") // 2).astype("<i2").tobytes()
    second = put(client, louder).json()
    assert second["sha256"] != first["sha256"]
    headers = {"x-api-key": KEY}
    restored = client.delete("/v1/admin/prompts/hmn/p-1-001193", headers=headers).json()["restored"]
    assert restored["sha256"] == first["sha256"]
    assert client.get("/v1/prompts/hmn/p-1-001193").headers["x-prompt-synthetic"] == "false"
    assert client.delete("/v1/admin/prompts/hmn/p-1-001193", headers=headers).json() == {"restored": None}
    assert client.get("/v1/prompts/hmn/p-1-001193").status_code == 404  # no synthetic in this fixture
    assert client.delete("/v1/admin/prompts/hmn/p-1-001193", headers=headers).status_code == 404
    assert client.delete("/v1/admin/prompts/hmn/p-1-001193").status_code == 401


def test_readers_never_see_a_half_written_recording(client, speech):
    put(client, speech)
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            res = client.get("/v1/prompts/hmn/p-1-001193?format=wav16k")
            if res.status_code != 200 or len(res.content) < 1000:
                errors.append(f"{res.status_code} {len(res.content)}")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(4):
            scaled = (np.frombuffer(speech[44:], "<i2") * (0.5 + i / 10)).astype("<i2").tobytes()
            assert put(client, speech[:44] + scaled).status_code == 200
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
