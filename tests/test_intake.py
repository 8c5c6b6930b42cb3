"""Hardened intake: every hole an adversarial review found, each kept closed by a test.

Real parts throughout: ffmpeg decodes, uvicorn serves (`tthc-voice serve` over loopback), a
TCP listener on another loopback port catches any request the server is tricked into making,
and memory is read from /proc (psutil) while a decompression bomb is being refused.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from service.offline.ivr_client import AudioSocketCaller
from service.offline.model_prepare import packaged_vosk_model
from service.speech.audio import AudioError, decode_audio
from tests.server import live_process
from tests.speech import convert, espeak, free_port, wav_bytes

pytestmark = pytest.mark.slow

ADMIN_KEY = "intake-test-key"


class Listener:
    """A loopback TCP server that counts whoever connects: the server must never be one."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(1024))
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Path:
    """A loud local WAV: if any trick makes ffmpeg read it, the upload decodes instead of failing."""
    tone = (8000 * np.sin(np.arange(16000 * 2) * 2 * np.pi * 440 / 16000)).astype(np.int16)
    path = tmp_path_factory.mktemp("canary") / "canary.wav"
    path.write_bytes(wav_bytes(tone))
    return path


def forgery_tricks(port: int, canary: Path) -> dict[str, bytes]:
    """Uploads that ask a demuxer to open other URLs or local files."""
    url = f"http://127.0.0.1:{port}/ssrf-probe.ts"

    def hls(target: str) -> bytes:
        return f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n".encode()

    mpd = (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT10S"><Period><AdaptationSet mimeType="audio/mp4"><Representation id="a" '
        f'bandwidth="64000"><BaseURL>{url}</BaseURL><SegmentBase/></Representation></AdaptationSet></Period></MPD>'
    )
    return {
        "hls-http": hls(url),
        "hls-with-bom-and-blank-lines": b"\xef\xbb\xbf\n\n" + hls(url),
        "hls-file": hls(f"file:{canary}"),
        "hls-bare-path": hls(str(canary)),
        "hls-subfile": hls(f"subfile,,start,0,end,0,,:{canary}"),
        "hls-tee": hls(f"tee:file:{canary}|{url}"),
        "hls-behind-id3-tag": b"ID3\x04\x00\x00\x00\x00\x00\x00" + hls(url),
        "dash-http": mpd.encode(),
        "dash-without-xml-declaration": mpd.split("?>", 1)[1].encode(),
        "concat-http": f"ffconcat version 1.0\nfile '{url}'\n".encode(),
        "concat-file": f"ffconcat version 1.0\nfile '{canary}'\n".encode(),
        "concat-without-header": f"file '{canary}'\n".encode(),
    }


CONTENT_TYPES = ["application/octet-stream", "audio/mp4", "audio/mpeg", "audio/wav", None]


def test_no_upload_makes_ffmpeg_fetch_a_url_or_read_a_local_file(listener, canary):
    refused: dict[str, int] = {}
    for name, data in forgery_tricks(listener.port, canary).items():
        for ctype in CONTENT_TYPES:
            with pytest.raises(AudioError) as info:
                decode_audio(data, ctype)
            refused[f"{name} as {ctype}"] = info.value.status_code
    time.sleep(0.5)  # a fetch, had one started, would have connected by now
    assert listener.connections == [], "the decoder connected to another server"
    assert set(refused.values()) <= {400, 415}, refused
    assert refused["hls-http as application/octet-stream"] == 415  # said plainly: no playlists


@pytest.fixture(scope="module")
def intake_server(synthesized_site, tmp_path_factory) -> Iterator[tuple[str, psutil.Process, int]]:
    """A live service with tight intake limits; small Korean Vosk model so it starts in seconds."""
    tmp = tmp_path_factory.mktemp("intake")
    audiosocket_port = free_port()
    env = {
        "TTHC_CORPUS_PATH": str(synthesized_site / "procedures.jsonl"),
        "TTHC_PROMPTS_DIR": str(synthesized_site / "prompts"),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "vosk",
        "TTHC_VOSK_MODEL": str(packaged_vosk_model()),
        "TTHC_ADMIN_API_KEY_SHA256": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        "TTHC_MAX_STREAMS": "8",
        "TTHC_MAX_STREAMS_PER_CLIENT": "2",
        "TTHC_STREAM_FIRST_AUDIO_SECONDS": "1.5",
        "TTHC_STREAM_IDLE_SECONDS": "2",
        "TTHC_HEADER_TIMEOUT_SECONDS": "2",
        "TTHC_BODY_READ_TIMEOUT_SECONDS": "2",
        "TTHC_AUDIOSOCKET_PORT": str(audiosocket_port),
        "TTHC_IVR_MAX_CALLS": "3",
        "TTHC_IVR_FIRST_FRAME_SECONDS": "1",
        "TTHC_IVR_MAX_PENDING_PER_ADDRESS": "8",
        "TTHC_IVR_PLAYBACK_SPEED": "0",
    }
    with live_process(env, tmp) as (base, proc):
        yield base, psutil.Process(proc.pid), audiosocket_port


def test_uploads_through_the_service_never_reach_another_server(intake_server, listener, canary):
    base, _, _ = intake_server
    tricks = forgery_tricks(listener.port, canary)
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, data in tricks.items():
            for ctype in ("application/octet-stream", "audio/mp4"):
                res = client.post("/v1/query", content=data, headers={"content-type": ctype})
                assert res.status_code in (400, 415), (name, ctype, res.text)
                assert res.json()["error"] and res.headers["x-request-id"]
            res = client.put(
                "/v1/admin/prompts/vi/sys-greeting",
                content=data,
                headers={"content-type": "application/octet-stream", "x-api-key": ADMIN_KEY},
            )
            assert res.status_code in (400, 415), (name, res.text)
        hls = client.post("/v1/query", content=tricks["hls-http"], headers={"content-type": "audio/x-mpegurl"})
        assert hls.status_code == 415
    time.sleep(0.5)
    assert listener.connections == []


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    """Hours of silence in a few hundred KB: 1 h of 48 kHz stereo FLAC, 20 min of Opus."""
    tmp = tmp_path_factory.mktemp("bombs")
    made = {}
    for name, seconds, args, ctype in [
        ("flac-1h", 3600, ["-c:a", "flac"], "audio/flac"),
        ("opus-20min", 1200, ["-c:a", "libopus", "-b:a", "24k"], "audio/ogg"),
    ]:
        path = tmp / f"{name}.{'flac' if 'flac' in name else 'ogg'}"
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]
            + ["-t", str(seconds), *args, str(path)],
            check=True,
        )
        made[name] = (path.read_bytes(), ctype)
    return made


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def _peak_growth_mb(server: psutil.Process, action: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """Run `action` while sampling the service's (and its ffmpeg children's) RSS every 10 ms."""
    baseline = peak = _tree_rss(server)
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(server))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        response = action()
    finally:
        done.set()
        watcher.join()
    return response, (peak - baseline) / 2**20


def test_decompression_bombs_are_refused_within_a_memory_bound(intake_server, bombs):
    base, server, _ = intake_server
    for name, (data, ctype) in bombs.items():
        assert len(data) < 1_000_000
        started = time.monotonic()
        res, growth_mb = _peak_growth_mb(
            server,
            lambda data=data, ctype=ctype: httpx.post(
                f"{base}/v1/query", content=data, headers={"content-type": ctype}, timeout=60
            ),
        )
        assert res.status_code == 413, (name, res.text)
        assert "limit of 30 s" in res.json()["error"]
        assert growth_mb < 150, f"{name}: service and ffmpeg grew by {growth_mb:.0f} MB while refusing it"
        assert time.monotonic() - started < 10, f"{name}: refusing it took too long"
    assert httpx.get(f"{base}/readyz").status_code == 200


def _ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/stream"


def _connect_from(url: str, source_host: str):
    """A WebSocket from a chosen loopback address (127.0.0.0/8 all reaches the server)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), source_address=(source_host, 0))
    return connect(url, sock=sock)


def test_idle_streams_are_closed_and_a_ninth_client_is_served(intake_server):
    base, _, _ = intake_server
    url = _ws_url(base)
    with ExitStack() as stack:
        idle = [stack.enter_context(_connect_from(url, f"127.0.0.{10 + n}")) for n in range(8)]  # every slot
        with connect(url) as ninth:  # all slots held: refused at once
            assert "too many streams" in json.loads(ninth.recv(timeout=5))["error"]
        for ws in idle:
            message = json.loads(ws.recv(timeout=5))  # the first-audio timeout is 1.5 s
            assert "no audio within 1.5 s" in message["error"]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with connect(url) as served:
        served.send(b"\x00\x00" * 1600)
        assert "partial" in json.loads(served.recv(timeout=5))
        served.send('{"eof": 1}')
        assert "text" in json.loads(served.recv(timeout=10))
        assert "match" in json.loads(served.recv(timeout=10))


def test_a_stream_that_stops_sending_is_closed(intake_server):
    base, _, _ = intake_server
    with connect(_ws_url(base)) as ws:
        ws.send(b"\x00\x00" * 1600)
        ws.recv(timeout=5)
        message = json.loads(ws.recv(timeout=5))  # nothing more sent: closed after 2 s
        assert "no audio for 2 s" in message["error"]


def test_one_address_cannot_hold_every_stream(intake_server):
    base, _, _ = intake_server
    url = _ws_url(base)
    with _connect_from(url, "127.0.0.30") as a, _connect_from(url, "127.0.0.30") as b:
        for ws in (a, b):
            ws.send(b"\x00\x00" * 1600)
            assert "partial" in json.loads(ws.recv(timeout=5))
        with _connect_from(url, "127.0.0.30") as third:
            assert "already has 2 open streams" in json.loads(third.recv(timeout=5))["error"]
        with _connect_from(url, "127.0.0.31") as other:
            other.send(b"\x00\x00" * 1600)
            assert "partial" in json.loads(other.recv(timeout=5))


def test_a_bad_stream_config_gets_an_error_and_a_normal_close(intake_server):
    base, _, _ = intake_server
    with connect(_ws_url(base)) as ws:
        ws.send('{"config": {"sample_rate": 1e999}}')
        assert "unsupported sample_rate" in json.loads(ws.recv(timeout=5))["error"]
        ws.send('{"config": {"sample_rate": [8000]}}')
        assert "unsupported sample_rate" in json.loads(ws.recv(timeout=5))["error"]
        ws.send(b"\x00\x00" * 1600)
        assert "partial" in json.loads(ws.recv(timeout=5))
        ws.send('{"eof": 1}')
        assert "text" in json.loads(ws.recv(timeout=10))
        assert "match" in json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


MENU_PROMPTS = ["sys-choose-language", "lang-vi", "sys-press-1", "lang-hmn", "sys-press-2", "lang-tai", "sys-press-3"]


def _menu_bytes(base: str) -> int:
    """How many bytes of audio the language menu is, as the hotline plays it."""
    total = 0
    with httpx.Client(base_url=base) as client:
        for p in MENU_PROMPTS:
            audio = client.get(f"/v1/prompts/vi/{p}", params={"format": "slin8k"}).content
            total += len(audio) + (-len(audio) % 320)
    return total


def test_silent_audiosocket_connections_do_not_lock_callers_out(intake_server):
    base, _, port = intake_server
    menu = _menu_bytes(base)
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]  # never send a UUID
    try:
        time.sleep(0.3)
        assert httpx.get(f"{base}/readyz").json()["ivr_calls"] == 0  # not one of them is a call
        readable, _, _ = select.select(silent, [], [], 0.2)
        assert len([s for s in readable if s.recv(1) == b""]) == 30 - 8  # beyond 8 waiting: closed at once
        caller = AudioSocketCaller("127.0.0.1", port, timeout=10, source_host="127.0.0.2")
        try:
            assert caller.wait_for_audio(menu, timeout=20), "a real caller did not hear the menu"
            assert httpx.get(f"{base}/readyz").json()["ivr_calls"] == 1
        finally:
            caller.hang_up()
        for sock in silent:  # dropped after the 1 s first-frame timeout
            sock.settimeout(5)
            assert sock.recv(1) == b""
    finally:
        for sock in silent:
            sock.close()
    caller = AudioSocketCaller("127.0.0.1", port, timeout=10)  # the same address is served again
    try:
        assert caller.wait_for_audio(menu, timeout=20)
    finally:
        caller.hang_up()


def _raw_request(base: str, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    host, port = base.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head + body)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
                if b"\r\n\r\n" in reply and b'"}' in reply:
                    break
        except TimeoutError:
            pass
        return reply


def test_oversized_bodies_are_refused_without_being_read(intake_server):
    base, server, _ = intake_server
    for path, ctype in [("/v1/search", "application/json"), ("/v1/query", "audio/wav")]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {100 * 2**20}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        reply = _raw_request(base, head, b"{" * 1000)  # 1 KB of the promised 100 MB
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b"larger than" in reply and b"x-request-id" in reply.lower()
        assert time.monotonic() - started < 3  # answered at once, not after waiting for 100 MB
    baseline = _tree_rss(server)

    def chunked_search() -> int:
        body = (b'{"text": "' + b"a" * (8 * 2**20) + b'"}' for _ in range(1))
        return httpx.post(
            f"{base}/v1/search", content=body, headers={"content-type": "application/json"}, timeout=30
        ).status_code

    with ThreadPoolExecutor(8) as pool:  # eight 8 MB chunked bodies at once, no Content-Length
        statuses = list(pool.map(lambda _: chunked_search(), range(8)))
    assert statuses == [413] * 8
    assert (_tree_rss(server) - baseline) / 2**20 < 100


def test_slow_senders_are_cut_off(intake_server):
    base, _, _ = intake_server
    host, port = base.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # headers a byte at a time
        started, closed_after = time.monotonic(), None
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n":
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
            closed_after = time.monotonic() - started if sock.recv(1) == b"" else None
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - started
        assert closed_after is not None and closed_after < 9  # the header timeout is 2 s; sending takes 10 s
    head = b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
    reply = _raw_request(base, head, b'{"text": ', wait=10)  # then nothing more
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_admin_key_guessing_is_rate_limited_on_every_admin_path(intake_server):
    base, _, _ = intake_server
    guesser, official = "127.0.0.40", "127.0.0.41"
    for path in ["/admin/insights", "/v1/admin/reload", "/admin/insights.csv"]:
        transport = httpx.HTTPTransport(local_address=guesser)
        with httpx.Client(base_url=base, transport=transport, timeout=10) as client:
            method = "POST" if "reload" in path else "GET"
            statuses = [
                client.request(method, path, headers={"x-api-key": f"guess-{n}"}).status_code for n in range(150)
            ]
            assert statuses[:5] == [403] * 5, path
            assert statuses.count(429) >= 140, (path, statuses)
            locked = client.request(method, path, headers={"x-api-key": ADMIN_KEY})
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1  # even the right key
        guesser = guesser[:-1] + str(int(guesser[-1]) + 2)  # a fresh address for the next path
    transport = httpx.HTTPTransport(local_address=official)
    with httpx.Client(base_url=base, transport=transport, timeout=10) as client:  # others are unaffected
        assert client.get("/admin/insights", params={"format": "json"}, headers={"x-api-key": ADMIN_KEY}).is_success


@pytest.mark.parametrize(
    ("content", "ctype", "words"),
    [
        (b"\x00\x10" * 8000, "audio/L16;rate=16000;channels=abc", "whole numbers"),
        (b"\x00\x10" * 8000, "audio/L16;rate=16000;channels=0", "1 or 2 channels"),
        (b"\x00\x10" * 8000, "audio/L16;rate=1e999", "whole numbers"),
        ("channels=0", "audio/wav", "0 channels"),
        ("bits=0", "audio/wav", "0 bits per sample"),
        ("bits=7", "audio/wav", "7 bits per sample"),
    ],
)
def test_malformed_audio_parameters_are_4xx_with_a_request_id(intake_server, content, ctype, words):
    base, _, _ = intake_server
    if isinstance(content, str):  # a WAV whose header lies about itself
        field, value = content.split("=")
        wav = bytearray(wav_bytes((8000 * np.sin(np.arange(16000) / 5)).astype(np.int16)))
        if field == "channels":
            wav[22:24] = int(value).to_bytes(2, "little")
        else:
            wav[34:36] = int(value).to_bytes(2, "little")
        content = bytes(wav)
    res = httpx.post(f"{base}/v1/query", content=content, headers={"content-type": ctype}, timeout=30)
    assert 400 <= res.status_code < 500, res.text
    assert words in res.json()["error"]
    assert res.headers["x-request-id"]


def test_an_unexpected_error_is_a_json_500_with_a_request_id(builtin_settings, tmp_path):
    """The one test that needs a failing route: added to a real app, as no route fails on purpose."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(builtin_settings.model_copy(update={"data_dir": tmp_path}), load_models_in_background=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        res = client.get("/boom", headers={"x-request-id": "trace-me-1"})
        assert res.status_code == 500
        assert res.json() == {"error": "internal error", "request_id": "trace-me-1"}
        assert res.headers["x-request-id"] == "trace-me-1"
        assert client.get("/healthz").status_code == 200


def test_concurrent_first_transcodes_serve_one_set_of_bytes(intake_server):
    base, _, _ = intake_server
    prompt = "/v1/prompts/vi/sys-goodbye?format=opus"  # not asked for by any other test here

    def fetch(_: int) -> tuple[str, str]:
        res = httpx.get(base + prompt, timeout=30)
        res.raise_for_status()
        return res.headers["etag"], hashlib.sha256(res.content).hexdigest()

    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(fetch, range(8)))
    assert len(results) == 1, results  # one ETag, one body
    assert fetch(0) in results


def test_streamed_speech_is_cut_at_the_utterance_limit(tmp_path):
    """A stream may not push one utterance past the upload limit: the session closes it there."""
    from service.speech.asr import VoskTranscriber
    from service.speech.stream import open_session

    engine = VoskTranscriber(packaged_vosk_model())
    wav = espeak("안녕하세요 " * 12, tmp_path / "ko.wav", voice="ko", speed=160)
    pcm = convert(wav, tmp_path / "ko.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    session = open_session(engine, 16000, None, max_utterance_s=1.0)
    finals_at = []
    for offset in range(0, min(len(pcm), 16000 * 2 * 4), 3200):  # 4 s of speech, 0.1 s frames
        reply = session.feed(pcm[offset : offset + 3200])
        if "text" in reply:
            finals_at.append(offset / 32000)
    assert finals_at, "no utterance was closed within 4 s at a 1 s limit"
    assert finals_at[0] <= 1.2
