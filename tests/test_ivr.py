"""The telephone hotline: real calls over loopback in the Asterisk AudioSocket protocol.

The caller sends DTMF and real 8 kHz speech (espeak-ng Vietnamese) and checks the exact
prompt audio the service plays back. Prompt playback is unpaced here (TTHC_IVR_PLAYBACK_SPEED=0)
to keep the suite short; bench/ivr.py runs the same calls at real-time pace.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.answers.prompts import HUMAN_MANIFEST, PromptKind, PromptRecord
from service.answers.transcode import AudioFormat, transcode
from service.channels.hotline.audiosocket import Kind, encode
from service.channels.hotline.ivr import beep
from service.offline.ivr_client import AudioSocketCaller
from tests.server import live_server, start_server, wait_ready
from tests.speech import convert, espeak, free_port

pytestmark = pytest.mark.slow


class Hotline:
    def __init__(self, base: str, port: int, data_dir: Path) -> None:
        self.base = base
        self.port = port
        self.data_dir = data_dir
        self._http = httpx.Client(base_url=base, timeout=60)

    def call(self) -> AudioSocketCaller:
        return AudioSocketCaller("127.0.0.1", self.port)

    def prompt(self, language: str, prompt_id: str) -> bytes:
        """What the service plays for a prompt on the phone: 8 kHz slin, as 20 ms frames (padded)."""
        res = self._http.get(f"/v1/prompts/{language}/{prompt_id}", params={"format": "slin8k"})
        res.raise_for_status()
        return _padded(res.content)

    def menu(self) -> bytes:
        prompts = [
            "sys-choose-language",
            "lang-vi",
            "sys-press-1",
            "lang-hmn",
            "sys-press-2",
            "lang-tai",
            "sys-press-3",
        ]
        return b"".join(self.prompt("vi", p) for p in prompts)

    def dial(self, key: str, timeout: float = 60) -> AudioSocketCaller:
        """Call, hear the whole menu, press `key`, and wait for the beep after the greeting."""
        caller = self.call()
        menu = len(self.menu())
        assert caller.wait_for_audio(menu, timeout=timeout)
        caller.send_dtmf(key)
        assert caller.wait_for_beep(after=menu, timeout=timeout)
        return caller

    def active_calls(self) -> int:
        return int(self._http.get("/readyz").json()["ivr_calls"])


def _padded(audio: bytes) -> bytes:
    return audio + bytes(-len(audio) % 320)


def _env(site: Path, prompts: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "TTHC_CORPUS_PATH": str(site / "procedures.jsonl"),
        "TTHC_PROMPTS_DIR": str(prompts),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "whisper",
        "TTHC_AUDIOSOCKET_PORT": str(port),
        "TTHC_IVR_PLAYBACK_SPEED": "0",
        "TTHC_IVR_NO_INPUT_SECONDS": "3",
        "TTHC_ASR_WORKERS": "2",
        **extra,
    }


def _with_hmong_greeting(site: Path, tmp: Path) -> Path:
    """A copy of the prompts where a person recorded the greeting in H'Mông (here: a tone sweep)."""
    prompts = tmp / "prompts"
    shutil.copytree(site / "prompts", prompts)
    (prompts / "hmn").mkdir()
    target = prompts / "hmn" / "sys-greeting.flac"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(target),
            "synth",
            "1.5",
            "sine",
            "300-900",
            "vol",
            "0.5",
        ],
        check=True,
    )
    record = PromptRecord(
        language="hmn",
        prompt_id="sys-greeting",
        kind=PromptKind.GREETING,
        file="hmn/sys-greeting.flac",
        duration_s=1.5,
        sha256="0" * 64,
        synthetic=False,
        text="(H'Mông greeting)",
        recorded_by="test",
        date="2026-11-22",
    )
    (prompts / HUMAN_MANIFEST).write_text(record.model_dump_json() + "\n", encoding="utf-8")
    return prompts


@pytest.fixture(scope="module")
def hotline(synthesized_site, tmp_path_factory) -> Iterator[Hotline]:
    tmp = tmp_path_factory.mktemp("ivr")
    port = free_port()
    prompts = _with_hmong_greeting(synthesized_site, tmp)
    with live_server(_env(synthesized_site, prompts, port, TTHC_IVR_MAX_CALLS="24"), tmp) as base:
        yield Hotline(base, port, tmp)


def _speech8k(text: str, tmp: Path, name: str) -> bytes:
    wav = espeak(text, tmp / f"{name}.wav", speed=110)
    return convert(wav, tmp / f"{name}.raw", "-f", "s16le", "-ar", "8000", "-ac", "1").read_bytes()


@pytest.fixture(scope="module")
def birth_8k(tmp_path_factory) -> bytes:
    return _speech8k("đăng ký khai sinh cho con", tmp_path_factory.mktemp("say"), "khai-sinh")


@pytest.fixture(scope="module")
def marriage_8k(tmp_path_factory) -> bytes:
    """Survives mu-law telephone quality well enough for Whisper base (checked by hand)."""
    return _speech8k("đăng ký kết hôn", tmp_path_factory.mktemp("say"), "ket-hon")


def _ask(caller: AudioSocketCaller, speech: bytes, realtime: bool = False) -> int:
    """Speak a question and the pause that ends it; returns where the reply will start."""
    mark = len(caller.audio)
    caller.send_audio(speech, realtime=realtime)
    caller.send_silence(1.2, realtime=realtime)
    return mark


def test_call_hears_the_menu_and_the_answer_to_a_spoken_question(hotline, birth_8k):
    caller = hotline.call()
    menu = hotline.menu()  # each language names itself (falling back to Vietnamese here)
    assert caller.wait_for_audio(len(menu), timeout=60)
    assert bytes(caller.audio[: len(menu)]) == menu
    caller.send_dtmf("1")
    assert caller.wait_for_beep(after=len(menu))
    assert bytes(caller.audio[len(menu) :]) == hotline.prompt("vi", "sys-greeting") + _padded(beep())
    mark = _ask(caller, birth_8k)
    answer = hotline.prompt("vi", "p-1-001193")
    assert caller.wait_for_bytes(answer, after=mark) == mark  # the answer, first thing after the question
    caller.hang_up()
    with sqlite3.connect(hotline.data_dir / "queries.db") as db:  # the question is in the query log
        rows = db.execute("SELECT channel, top_codes FROM queries WHERE call_id = ?", (str(caller.uuid),)).fetchall()
    assert len(rows) == 1 and rows[0][0] == "ivr" and rows[0][1].startswith("1.001193")


def test_language_choice_plays_that_languages_recording(hotline):
    caller = hotline.dial("2")  # H'Mông: a person recorded its greeting
    greeting = hotline.prompt("hmn", "sys-greeting") + _padded(beep())
    assert bytes(caller.audio).endswith(greeting)
    assert caller.audio.find(hotline.prompt("vi", "sys-greeting")) < 0  # not the Vietnamese one
    caller.hang_up()


def test_barge_in_key_stops_the_menu(hotline):
    caller = hotline.call()
    caller.send_dtmf("3")  # pressed while the menu is still playing
    assert caller.wait_for_beep()
    caller.hang_up()
    assert bytes(caller.audio).endswith(hotline.prompt("vi", "sys-greeting") + _padded(beep()))
    full = len(hotline.menu()) + len(hotline.prompt("vi", "sys-greeting")) + len(_padded(beep()))
    assert len(caller.audio) < full  # the rest of the menu was skipped


def test_silence_twice_says_goodbye_and_hangs_up(hotline):
    caller = hotline.dial("1")
    mark = len(caller.audio)
    caller.send_silence(3.5, realtime=False)  # no-input timeout is 3 s of line audio
    assert caller.wait_for_beep(after=mark)  # asked again
    caller.send_silence(3.5, realtime=False)
    assert caller.wait_closed(30)
    assert caller.hung_up  # the service sent the hangup frame before closing
    assert bytes(caller.audio).endswith(hotline.prompt("vi", "sys-goodbye"))


def test_hang_up_mid_question_and_broken_frames_hurt_no_other_call(hotline, birth_8k):
    # hang up in the middle of a question
    caller = hotline.dial("1")
    caller.send_audio(birth_8k[: len(birth_8k) // 2], realtime=False)
    caller.hang_up()

    # a first frame that is not a UUID: the service hangs up at once
    with socket.create_connection(("127.0.0.1", hotline.port), timeout=10) as sock:
        sock.sendall(encode(Kind.SLIN8, bytes(320)))
        assert sock.recv(3) in (encode(Kind.HANGUP), b"")

    # unknown kinds and odd-length audio mid-call are ignored; the call goes on
    caller = hotline.call()
    assert caller.wait_for_audio(len(hotline.menu()), timeout=60)
    caller.send_raw(encode(0x42, b"future frame kind"))
    caller.send_raw(encode(Kind.SLIN8, bytes(321)))
    caller.send_dtmf("1")
    assert caller.wait_for_beep(after=len(hotline.menu()))
    # a frame cut off by the connection closing
    caller.send_raw(bytes([Kind.SLIN8, 0x01, 0x40]) + bytes(10))
    caller.hang_up()

    # an error frame from Asterisk ends that call only
    caller = hotline.call()
    caller.send_raw(encode(Kind.ERROR, b"\x04"))
    assert caller.wait_closed(10)

    # and a normal call still gets its answer
    caller = hotline.dial("1")
    mark = _ask(caller, birth_8k)
    assert caller.wait_for_bytes(hotline.prompt("vi", "p-1-001193"), after=mark) is not None
    caller.hang_up()


def test_twenty_calls_at_once_all_get_their_answer(hotline, birth_8k):
    answer = hotline.prompt("vi", "p-1-001193")
    results: dict[int, bool] = {}

    def one_call(n: int) -> None:
        caller = hotline.dial("1", timeout=120)
        try:
            mark = _ask(caller, birth_8k, realtime=True)
            results[n] = caller.wait_for_bytes(answer, after=mark, timeout=180) == mark
        finally:
            caller.hang_up()

    threads = [threading.Thread(target=one_call, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sum(results.values()) == 20, results
    deadline = 0
    while hotline.active_calls() and deadline < 50:  # every call task ends after its hang-up
        threading.Event().wait(0.1)
        deadline += 1
    assert hotline.active_calls() == 0


def test_unsure_match_offers_choices_by_key(synthesized_site, birth_8k, marriage_8k, tmp_path):
    port = free_port()
    env = _env(
        synthesized_site,
        synthesized_site / "prompts",
        port,
        TTHC_ANSWER_MIN_CONFIDENCE="1.0",
        TTHC_CLARIFY_MIN_CONFIDENCE="0.0",
    )
    with live_server(env, tmp_path) as base:
        line = Hotline(base, port, tmp_path)
        caller = line.dial("1")
        mark = _ask(caller, birth_8k)
        choices = line.prompt("vi", "sys-clarify") + line.prompt("vi", "p-1-001193-title")
        assert caller.wait_for_bytes(choices, after=mark) == mark
        caller.send_dtmf("1")
        assert caller.wait_for_bytes(line.prompt("vi", "p-1-001193"), after=mark, timeout=30) is not None
        caller.hang_up()

        # the same unsure turn over HTTP: a VoiceXML menu with one choice per key
        doc = _vxml(_turn(line, _ulaw_wav(marriage_8k, tmp_path), "call-2"))
        choices = doc.findall(f"{VXML}menu/{VXML}choice")
        assert 2 <= len(choices) <= 3 and choices[0].get("dtmf") == "1"
        assert "code=1.000894" in choices[0].get("next")
        prompt_audio = [a.get("src") for a in doc.findall(f"{VXML}menu/{VXML}prompt/{VXML}audio")]
        assert prompt_audio[:3] == [
            "/v1/prompts/vi/sys-clarify?format=ulaw8k",
            "/v1/prompts/vi/p-1-000894-title?format=ulaw8k",
            "/v1/prompts/vi/sys-press-1?format=ulaw8k",
        ]
        chosen = _vxml(line._http.get(choices[0].get("next")))
        assert chosen.find(f"{VXML}form/{VXML}block/{VXML}audio").get("src").endswith("p-1-000894?format=ulaw8k")


VXML = "{http://www.w3.org/2001/vxml}"


def _ulaw_wav(pcm8k: bytes, tmp: Path) -> bytes:
    """What a VoiceXML browser records: 8 kHz mu-law WAV."""
    raw = tmp / "rec.raw"
    raw.write_bytes(pcm8k + bytes(8000))
    wav = tmp / "rec.wav"
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", str(raw)]
        + ["-c:a", "pcm_mulaw", str(wav)],
        check=True,
    )
    return wav.read_bytes()


def _vxml(res: httpx.Response) -> ET.Element:
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("application/voicexml+xml")
    return ET.fromstring(res.content)


def _turn(hotline: Hotline, audio: bytes, call_id: str, **headers: str) -> httpx.Response:
    return hotline._http.post(
        "/v1/ivr/turn",
        params={"call_id": call_id, "language": "vi"},
        files={"audio": ("rec.wav", audio, "audio/x-wav")},
        headers=headers,
    )


def test_voicexml_turn_plays_the_answer_and_records_the_next_question(hotline, marriage_8k, tmp_path):
    doc = _vxml(_turn(hotline, _ulaw_wav(marriage_8k, tmp_path), "call-1"))
    src = doc.find(f"{VXML}form/{VXML}block/{VXML}audio").get("src")
    assert src == "/v1/prompts/vi/p-1-000894?format=ulaw8k"
    audio = hotline._http.get(src)
    assert audio.headers["content-type"] == "audio/wav"
    fmt_tag, channels, rate = struct.unpack("<HHI", audio.content[20:28])
    assert (fmt_tag, channels, rate) == (7, 1, 8000)  # WAVE_FORMAT_MULAW, mono, 8 kHz
    submit = doc.find(f"{VXML}form/{VXML}record/{VXML}filled/{VXML}submit")
    assert submit.get("next") == "/v1/ivr/turn?call_id=call-1&language=vi" and submit.get("namelist") == "audio"

    turn = _turn(hotline, _ulaw_wav(marriage_8k, tmp_path), "call-1", accept="application/json").json()
    assert turn["decision"] == "answer" and turn["transcript"] and turn["choices"] == []


def test_voicexml_turn_rejects_bad_requests(hotline, tmp_path):
    silent = _ulaw_wav(bytes(16000), tmp_path)
    assert _turn(hotline, b"", "call-3").status_code == 400
    assert _turn(hotline, b"not audio at all", "call-3").status_code in (400, 415)
    assert _turn(hotline, silent, "bad id with spaces").status_code == 422
    no_id = hotline._http.post("/v1/ivr/turn", files={"audio": ("rec.wav", silent, "audio/x-wav")})
    assert no_id.status_code == 422 and "call_id" in no_id.text
    assert hotline._http.get("/v1/ivr/answer", params={"call_id": "c", "code": "9.999999"}).status_code == 404
    assert hotline._http.get("/v1/ivr/answer", params={"call_id": "c", "code": "x"}).status_code == 422


def test_ivr_call_command_checks_a_deployment(hotline, marriage_8k, tmp_path):
    question = tmp_path / "question.wav"
    question.write_bytes(_ulaw_wav(marriage_8k, tmp_path))
    out = tmp_path / "call.wav"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "ivr-call",
            str(question),
            "--port",
            str(hotline.port),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "answer" in done.stdout
    with wave.open(str(out)) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 8000 * 5
    assert hotline.prompt("vi", "p-1-000894") in out.read_bytes()  # the answer, byte for byte


def test_shutdown_lets_a_call_in_progress_hear_its_answer(synthesized_site, birth_8k, tmp_path):
    port = free_port()
    env = _env(synthesized_site, synthesized_site / "prompts", port)
    log_path = tmp_path / "serve.log"
    http_port = free_port()
    proc = start_server({"TTHC_DATA_DIR": str(tmp_path), **env}, http_port, log_path)
    try:
        wait_ready(f"http://127.0.0.1:{http_port}", proc, log_path)
        line = Hotline(f"http://127.0.0.1:{http_port}", port, tmp_path)
        caller = line.call()
        caller.send_dtmf("1")
        assert caller.wait_for_beep(timeout=60)
        mark = _ask(caller, birth_8k)
        proc.send_signal(signal.SIGTERM)  # a rolling upgrade stops this replica mid-question
        answer = _slin8k(synthesized_site / "prompts", "p-1-001193", tmp_path / "cache")
        assert caller.wait_for_bytes(answer, after=mark, timeout=60) == mark
        caller.hang_up()
        assert proc.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
        assert "Application shutdown complete" in log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()


def _slin8k(prompts: Path, prompt_id: str, cache: Path) -> bytes:
    """The answer as the hotline plays it, made with the service's own transcoder (no HTTP)."""
    return _padded(transcode(prompts / "vi" / f"{prompt_id}.tts.ogg", AudioFormat.SLIN8K, cache).read_bytes())
