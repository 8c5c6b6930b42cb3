"""The province's nginx config (deploy/nginx/nginx.conf), run by a real nginx in front of the service.

Only the upstream names and listen ports are rewritten to loopback ones; everything else is
the file as deployed: HTTP with request ids, the WebSocket upgrade for /v1/stream, the TCP
stream for Asterisk AudioSocket, and X-Forwarded-For that a caller cannot spoof.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from service.config import PROJECT_ROOT
from service.offline.ivr_client import AudioSocketCaller
from tests.ci import missing
from tests.server import live_server
from tests.speech import convert, espeak, free_port
from tests.test_ivr import Hotline

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")  # built in to the official image


def _rewrite(conf: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert conf.count(old) == 1, f"{old!r} should appear once in nginx.conf"
        conf = conf.replace(old, new)
    return conf


@pytest.fixture(scope="module")
def proxied(synthesized_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Hotline]]:
    if not Path(NGINX).exists():
        missing("nginx is not installed (apt-get install nginx libnginx-mod-stream)")
    tmp = tmp_path_factory.mktemp("proxy")
    audiosocket = free_port()
    env = {
        "TTHC_CORPUS_PATH": str(synthesized_site / "procedures.jsonl"),
        "TTHC_PROMPTS_DIR": str(synthesized_site / "prompts"),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "whisper",
        "TTHC_AUDIOSOCKET_PORT": str(audiosocket),
        "TTHC_IVR_PLAYBACK_SPEED": "0",
        "TTHC_TRUSTED_PROXIES": '["127.0.0.1"]',
        "TTHC_RATE_LIMIT_PER_MINUTE": "6",
        "TTHC_RATE_LIMIT_BURST": "4",
    }
    with live_server(env, tmp) as base:
        http_port, tcp_port = free_port(), free_port()
        conf = _rewrite(
            (PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8"),
            {
                "server tthc:8000;": f"server {base.removeprefix('http://')};",
                "server tthc:9092;": f"server 127.0.0.1:{audiosocket};",
                "listen 80;": f"listen 127.0.0.1:{http_port};",
                "listen 9092;": f"listen 127.0.0.1:{tcp_port};",
            },
        )
        head = f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        if STREAM_MODULE.exists():
            head = f"load_module {STREAM_MODULE};\n" + head
        conf_path = tmp / "nginx.conf"
        conf_path.write_text(head + conf.replace("http {", f"http {{\n    access_log {tmp}/access.log;", 1))
        checked = subprocess.run([NGINX, "-t", "-c", str(conf_path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        proc = subprocess.Popen([NGINX, "-c", str(conf_path), "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{http_port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.2)
            yield f"http://127.0.0.1:{http_port}", tcp_port, Hotline(base, audiosocket, tmp)
        finally:
            proc.terminate()
            proc.wait(20)


def test_http_through_nginx_carries_a_request_id(proxied):
    base, _, _ = proxied
    res = httpx.post(f"{base}/v1/search", json={"text": "đăng ký kết hôn"})
    assert res.status_code == 200, res.text
    assert res.json()["matches"]
    assert len(res.headers["x-request-id"]) == 32  # nginx's $request_id, passed on and echoed


def test_websocket_stream_through_nginx(proxied, tmp_path):
    base, _, _ = proxied
    wav = espeak("đăng ký kết hôn", tmp_path / "q.wav", speed=120)
    pcm = convert(wav, tmp_path / "q.raw", "-f", "s16le", "-ar", "16000", "-ac", "1").read_bytes()
    with connect(base.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"config": {"sample_rate": 16000, "channel": "web"}}))
        for offset in range(0, len(pcm), 3200):
            ws.send(pcm[offset : offset + 3200])
            assert "error" not in json.loads(ws.recv(timeout=60))
        ws.send('{"eof": 1}')
        while "match" not in (message := json.loads(ws.recv(timeout=60))):
            pass
    assert message["match"]["transcript"] and message["match"]["channel"] == "web"


def test_audiosocket_call_through_nginx_hears_the_menu(proxied):
    _, tcp_port, hotline = proxied
    menu = hotline.menu()  # fetched over HTTP from the service itself
    caller = AudioSocketCaller("127.0.0.1", tcp_port)
    try:
        assert caller.wait_for_bytes(menu, timeout=60) == 0  # byte for byte, through the TCP proxy
    finally:
        caller.hang_up()


def test_forwarded_for_cannot_be_spoofed_past_nginx(proxied):
    """Each request claims a new address; nginx appends the real one, which the limiter counts."""
    base, _, _ = proxied
    codes = [
        httpx.post(
            f"{base}/v1/search", json={"text": "khai sinh"}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ).status_code
        for n in range(8)
    ]
    assert codes[0] == 200 and 429 in codes, codes
