"""viet-asr, the default engine, on real Vietnamese speech from ../shared/speech.

espeak-ng's synthetic voice says little about an engine trained on real voices, so these
tests use the read speech in ../shared (skipped where it is absent; CI has it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import soxr
from websockets.sync.client import connect

from service.config import Settings
from service.offline.asr_eval import error_counts, evaluate_asr, mulaw_round_trip
from service.speech.asr import VietAsrTranscriber
from service.speech.audio import Pcm, decode_audio, voiced_seconds
from tests.conftest import BUILTIN_CORPUS, needs_shared
from tests.server import live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> VietAsrTranscriber:
    return VietAsrTranscriber()


@pytest.fixture(scope="module")
def clips() -> list[tuple[str, Pcm]]:
    """Real read speech: ten VIVOS sentences and the isolated place names, with transcripts."""
    root = needs_shared("speech")
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [r for r in rows if r["file"].startswith("vivos")][:10]
    chosen += [r for r in rows if r["file"].startswith("fosd")][:5]
    return [(r["transcript"], decode_audio((root / r["file"]).read_bytes(), None, max_seconds=120)) for r in chosen]


def _wer(pairs: list[tuple[str, str]]) -> float:
    edits = words = 0
    for reference, hypothesis in pairs:
        we, w, _, _ = error_counts(reference, hypothesis)
        edits, words = edits + we, words + w
    return edits / max(words, 1)


def test_auto_is_viet_asr_and_loads_no_whisper():
    """Checked in a fresh process: this one has Whisper loaded for other tests."""
    script = (
        "import sys\n"
        "from service.config import Settings\n"
        "from service.corpus import load_corpus\n"
        "from service.lookup import build_transcriber\n"
        f"s = Settings(corpus_path={str(BUILTIN_CORPUS)!r}, use_embeddings=False)\n"
        "t = build_transcriber(s, load_corpus(s.corpus_path))\n"
        "print(type(t).__name__, 'faster_whisper' in sys.modules, 'ctranslate2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["VietAsrTranscriber", "False", "False"]


def test_real_speech_is_transcribed_accurately_and_fast(engine, clips):
    results = [(ref, engine.transcribe(pcm)) for ref, pcm in clips]
    assert all(r.engine == "vietasr" for _, r in results)
    wer = _wer([(ref, r.text) for ref, r in results])
    assert wer < 0.35, f"WER {wer:.3f} on 15 real clips"  # measured 0.2 here; Whisper base: 0.6
    rtf = sum(r.elapsed_s for _, r in results) / sum(r.duration_s for _, r in results)
    assert rtf < 0.5, f"real-time factor {rtf:.2f}"


def test_voiced_seconds_tell_one_spoken_word_from_a_sentence():
    """The one-syllable guard's measure, on real speech: an isolated word against read sentences."""
    root = needs_shared("speech")
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    words = [r for r in rows if len(r["transcript"].split()) == 1][:20]
    sentences = [r for r in rows if r["file"].startswith("vivos") and len(r["transcript"].split()) >= 8][:20]
    limit = Settings().asr_one_word_voiced_seconds

    def voiced(row: dict) -> float:
        pcm = decode_audio((root / row["file"]).read_bytes(), None, max_seconds=120)
        return voiced_seconds(pcm.samples, pcm.sample_rate)

    word_most = max(voiced(r) for r in words)
    sentence_seconds = sorted(voiced(r) for r in sentences)
    assert word_most < limit / 2  # a word lasts well under the guard's limit: it never asks a word again
    assert sentence_seconds[0] > 2 * word_most  # every sentence is far longer than any word
    assert sentence_seconds[len(sentence_seconds) // 2] > limit  # most sentences reach the limit


def test_telephone_audio_at_8k_is_taken_as_it_is(engine, clips):
    """Phone audio: 8 kHz mu-law, given to the engine at 8 kHz without resampling."""
    pairs = []
    for ref, pcm in clips[:10]:
        narrow = mulaw_round_trip(soxr.resample(pcm.samples, 16000, 8000).astype(np.int16))
        pairs.append((ref, engine.transcribe(Pcm(narrow, 8000)).text))
    assert _wer(pairs) < 0.5


def test_runs_with_no_network_and_writes_no_cache(clips, tmp_path):
    """The model is inside the wheel: in a network namespace with no interfaces it still works."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.decode().strip()}")
    ref, pcm = clips[0]
    raw = tmp_path / "clip.raw"
    raw.write_bytes(pcm.to_bytes())
    script = (
        "import sys, numpy as np, socket\n"
        "from service.speech.asr import VietAsrTranscriber\n"
        "from service.speech.audio import Pcm\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=2); print('NETWORK')\n"
        "except OSError:\n"
        "    pass\n"
        "pcm = Pcm(np.fromfile(sys.argv[1], dtype='<i2'), 16000)\n"
        "print(VietAsrTranscriber().transcribe(pcm).text)\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", script, str(raw)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert "NETWORK" not in lines, "the namespace had a network"
    assert _wer([(ref, lines[-1])]) < 0.5, lines
    assert not any(home.rglob("*")), f"wrote into HOME: {list(home.rglob('*'))}"


@pytest.fixture(scope="module")
def vietasr_url(tmp_path_factory) -> Iterator[str]:
    env = {"TTHC_USE_EMBEDDINGS": "false", "TTHC_CORPUS_PATH": str(BUILTIN_CORPUS)}  # the default engine
    with live_server(env, tmp_path_factory.mktemp("vietasr")) as base:
        yield base


def test_stream_gives_growing_partials_then_the_final_and_a_match(vietasr_url, clips):
    ref, pcm = clips[1]
    audio = pcm.to_bytes() + bytes(2 * 16000 * 2)  # the sentence, then 2 s of silence
    partials: list[str] = []
    with connect(vietasr_url.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"config": {"sample_rate": 16000, "channel": "kiosk"}}))
        final = None
        for offset in range(0, len(audio), 3200):
            ws.send(audio[offset : offset + 3200])
            reply = json.loads(ws.recv(timeout=30))
            if "text" in reply:
                final = reply
                break
            partials.append(reply["partial"])
        assert final is not None, "the pause after the sentence did not end it"
        ws.send('{"eof": 1}')
        assert json.loads(ws.recv(timeout=30))["text"] == ""
        match = json.loads(ws.recv(timeout=30))["match"]
    heard = [p for p in partials if p]
    assert len(heard) >= 3 and len(heard[-1].split()) > len(heard[0].split())  # it grows as audio comes
    assert _wer([(ref, final["text"])]) < 0.5, final
    assert match["asr"]["engine"] == "vietasr" and match["transcript"] == final["text"]


def test_telephone_stream_without_config_and_an_upload(vietasr_url, clips):
    ref, pcm = clips[2]
    narrow = soxr.resample(pcm.samples, 16000, 8000).astype("<i2").tobytes()
    with connect(vietasr_url.replace("http://", "ws://") + "/v1/stream") as ws:  # no config: 8 kHz
        for offset in range(0, len(narrow), 1600):
            ws.send(narrow[offset : offset + 1600])
            ws.recv(timeout=30)
        ws.send('{"eof": 1}')
        text = json.loads(ws.recv(timeout=30))["text"]
        json.loads(ws.recv(timeout=30))
    assert _wer([(ref, text)]) < 0.5, text
    res = httpx.post(
        f"{vietasr_url}/v1/query",
        content=pcm.to_bytes(),
        headers={"content-type": "audio/L16; rate=16000"},
        timeout=60,
    )
    assert res.status_code == 200 and res.json()["asr"]["engine"] == "vietasr"
    assert _wer([(ref, res.json()["transcript"])]) < 0.5


def test_eval_asr_reports_telephone_and_per_source_figures(engine, tmp_path):
    root = needs_shared("speech")
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(json.dumps({**r, "file": str(root / r["file"])}) + "\n" for r in rows[:4] + rows[-2:]),
        encoding="utf-8",
    )
    wide = evaluate_asr(engine, manifest)
    phone = evaluate_asr(engine, manifest, telephone_line=True)
    assert wide["engine"] == phone["engine"] == "vietasr" and phone["telephone"] and not wide["telephone"]
    assert wide["clips"] == phone["clips"] == 6 and set(wide["wer_by_source"]) == set(phone["wer_by_source"])
    assert wide["wer"] < 0.5 and "empty_outputs" in wide
    cli = subprocess.run(
        [sys.executable, "-m", "service.cli", "eval", "asr", str(manifest), "--telephone", "--json", "--limit", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    report = json.loads(cli.stdout)
    assert report["engine"] == "vietasr" and report["telephone"] and report["clips"] == 2


def test_mulaw_round_trip_keeps_speech_and_loses_a_little():
    t = np.arange(8000) / 8000
    tone = (10000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    back = mulaw_round_trip(tone)
    error = np.abs(back.astype(np.int32) - tone).max()
    assert 0 < error < 700  # 8-bit companding: a few per cent at this level, never silence
    assert np.corrcoef(back, tone)[0, 1] > 0.999


def test_mulaw_round_trip_is_the_g711_table():
    """Checked against Python's own G.711 codec (audioop, in the standard library until 3.13)."""
    audioop = pytest.importorskip("audioop")
    every = np.arange(-32768, 32768, dtype=np.int16)
    ours = mulaw_round_trip(every)
    reference = np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(every.tobytes(), 2), 2), dtype=np.int16)
    assert len(np.unique(ours)) == len(np.unique(reference)) == 255
    assert set(np.unique(ours)) == set(np.unique(reference))
    assert np.array_equal(ours[every >= 0], reference[every >= 0])
    # negative samples at a segment edge may round to the neighbouring level (audioop floors a 14-bit shift)
    levels = np.sort(np.unique(reference))
    step = np.abs(np.searchsorted(levels, ours[every < 0]) - np.searchsorted(levels, reference[every < 0]))
    assert step.max() <= 1 and (step > 0).sum() < 400  # 381 of 32,768
