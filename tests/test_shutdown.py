"""SIGTERM in a rolling upgrade: open WebSocket streams finish their question before the process exits."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import BUILTIN_CORPUS
from tests.server import start_server, wait_ready
from tests.speech import convert, espeak, free_port

pytestmark = pytest.mark.slow

GRACE_SECONDS = 20
FRAME = 3200  # 100 ms of 16 kHz PCM


def _send(ws: ClientConnection, pcm: bytes) -> list[dict[str, object]]:
    """Frames one by one, one reply each (the protocol); stops at the first final result."""
    replies = []
    for offset in range(0, len(pcm), FRAME):
        ws.send(pcm[offset : offset + FRAME])
        replies.append(json.loads(ws.recv(timeout=60)))
        if "text" in replies[-1]:
            break
    return replies


def _close_code(ws: ClientConnection) -> int | None:
    try:
        ws.recv(timeout=60)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    pytest.fail("the stream stayed open")


def test_sigterm_lets_open_streams_finish_their_question(prepared_models_dir: Path, tmp_path: Path) -> None:
    wav = espeak("làm giấy khai sinh cho con", tmp_path / "q.wav", speed=120)
    question = convert(wav, tmp_path / "q.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    half = len(question) // 2 // FRAME * FRAME
    env = {
        "TTHC_CORPUS_PATH": str(BUILTIN_CORPUS),
        "TTHC_DATA_DIR": str(tmp_path),
        "TTHC_MODELS_DIR": str(prepared_models_dir),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "whisper",
        "TTHC_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        # Three streams from one test address; the silent one must outlive the grace period
        # (the idle-stream timeouts have their own tests in tests/test_intake.py).
        "TTHC_MAX_STREAMS_PER_CLIENT": "3",
        "TTHC_STREAM_FIRST_AUDIO_SECONDS": "120",
    }
    port = free_port()
    log_path = tmp_path / "serve.log"
    proc = start_server(env, port, log_path)
    streams = ExitStack()
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log_path)
        url = f"ws://127.0.0.1:{port}/v1/stream"
        by_pause, by_eof, idle = (streams.enter_context(connect(url)) for _ in range(3))
        for ws in (by_pause, by_eof):
            ws.send(json.dumps({"config": {"sample_rate": 16000, "channel": "kiosk"}}))
            _send(ws, question[:half])  # half-way through the question...
        proc.send_signal(signal.SIGTERM)  # ...the replica is told to stop
        stopped_at = time.monotonic()

        refused = False
        while not refused and time.monotonic() - stopped_at < 10:
            try:
                with connect(url, open_timeout=2):
                    time.sleep(0.1)
            except OSError:
                refused = True  # new streams go to another replica
        assert refused, "still accepting new streams while shutting down"

        # One caller goes on talking and then pauses: the pause ends the question.
        sent = question[half:] + bytes(2 * 16000 * 2)
        replies = _send(by_pause, sent)
        assert replies[-1].get("text"), replies[-1]
        paused_match = json.loads(by_pause.recv(timeout=60))["match"]
        assert _close_code(by_pause) == 1012  # "service restart": reconnect elsewhere for the next one

        # The other finishes with end-of-stream, as the kiosk does when the button is released.
        _send(by_eof, question[half:])
        by_eof.send('{"eof": 1}')
        messages = [json.loads(by_eof.recv(timeout=60)) for _ in range(2)]
        assert "text" in messages[0]
        eof_match = messages[1]["match"]
        assert _close_code(by_eof) == 1012

        for match in (paused_match, eof_match):
            assert match["transcript"], "the question was not heard"
            codes = [m["code"] for m in match["matches"]]
            assert match["decision"] in ("answer", "clarify") and "1.001193" in codes, match  # khai sinh
        assert eof_match["asr"]["duration_s"] == pytest.approx(len(question) / 32000, abs=0.01)  # both halves

        # A stream that never says anything is closed when the grace period runs out.
        assert _close_code(idle) == 1012
        assert proc.wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped_at < GRACE_SECONDS + 10
    finally:
        streams.close()
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(tmp_path / "queries.db") as db:
        rows = db.execute("SELECT text FROM queries WHERE input = 'speech'").fetchall()
    assert sorted(r[0] for r in rows) == sorted([paused_match["transcript"], eof_match["transcript"]])
    log = log_path.read_text(errors="replace")
    assert "draining" in log and "1 stream(s) still open after the grace period" in log  # only the idle one
