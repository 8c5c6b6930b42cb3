"""Prompt catalogue: languages and fallback, synthesis, channel formats, HTTP delivery."""

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydub import AudioSegment

from service.answers.languages import DEFAULT_LANGUAGES, LanguageRegistry, load_registry
from service.answers.prompts import HUMAN_MANIFEST, PromptCatalogue, PromptKind, PromptRecord
from service.answers.transcode import AudioFormat, transcode
from service.app import create_app
from service.config import Settings
from service.corpus import load_corpus
from service.offline.synthesis import synthesize_vietnamese


def test_registry_chains_and_enables():
    reg = load_registry(None, ["vi", "hmn", "tai"])
    assert reg.chain("tai") == ["tai", "vi"]
    assert reg.chain("vi") == ["vi"]
    assert [lang.code for lang in reg.enabled()] == ["vi", "hmn", "tai"]
    assert reg.get("kjm") is not None and not reg.get("kjm").enabled  # Khơ Mú: a config change away
    with pytest.raises(ValueError, match="lacks"):
        load_registry(None, ["vi", "xx"])
    with pytest.raises(ValueError, match="unknown language"):
        LanguageRegistry(languages=[DEFAULT_LANGUAGES[1]])  # hmn falls back to vi, which is missing
    cyclic = LanguageRegistry(
        languages=[
            DEFAULT_LANGUAGES[0].model_copy(update={"fallback": ["hmn"]}),
            DEFAULT_LANGUAGES[1],
        ]
    )
    assert cyclic.chain("hmn") == ["hmn", "vi"]


def test_registry_from_file_adds_a_language(tmp_path: Path):
    path = tmp_path / "langs.json"
    rows = [lang.model_dump() for lang in DEFAULT_LANGUAGES]
    rows.append({"code": "lo", "name_vi": "Tiếng Lào", "name_native": "ພາສາລາວ", "fallback": ["tai"]})
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    reg = load_registry(path, ["vi", "lo"])
    assert reg.chain("lo") == ["lo", "tai", "vi"]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> tuple[Path, Path]:
    """Two procedures + system prompts rendered for real with espeak-ng."""
    from tests.conftest import SMALL_CORPUS, write_jsonl

    tmp = tmp_path_factory.mktemp("prompts")
    corpus_path = write_jsonl(tmp / "procedures.jsonl", SMALL_CORPUS[:2])
    root = tmp / "audio_prompts"
    tiles = {"tile-birth": "Khai sinh cho con"}
    made, kept = synthesize_vietnamese(load_corpus(corpus_path), root, tile_names=tiles)
    # 2 answers + 2 titles + 1 tile name + 21 system prompts (5 spoken replies, 4 telephone
    # phrases, keys 0-9, "not recorded in your language", "busy, see the desk") + 3 language names
    assert (made, kept) == (29, 0)
    assert synthesize_vietnamese(load_corpus(corpus_path), root, tile_names=tiles) == (0, 29)  # unchanged: kept
    return root, corpus_path


def _add_human(root: Path, lang: str, prompt_id: str, source: Path) -> None:
    (root / lang).mkdir(exist_ok=True)
    target = root / lang / f"{prompt_id}.flac"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(source), str(target)], check=True)
    record = PromptRecord(
        language=lang,
        prompt_id=prompt_id,
        kind=PromptKind.ANSWER,
        file=f"{lang}/{target.name}",
        duration_s=1.0,
        sha256="0" * 64,
        synthetic=False,
        text="…",
        recorded_by="test speaker",
        date="2026-11-22",
    )
    with (root / HUMAN_MANIFEST).open("a", encoding="utf-8") as fh:
        fh.write(record.model_dump_json() + "\n")


def test_resolution_prefers_humans_and_falls_back(synthesized):
    root, _ = synthesized
    reg = load_registry(None, ["vi", "hmn", "tai"])
    catalogue = PromptCatalogue(root, reg)
    vi = catalogue.resolve("p-1-001193", "vi")
    assert vi is not None and vi.record.synthetic and not vi.fallback_used
    hmn = catalogue.resolve("p-1-001193", "hmn")
    assert hmn is not None and hmn.record.language == "vi" and hmn.fallback_used
    assert catalogue.resolve("p-9-999999", "vi") is None
    _add_human(root, "hmn", "p-1-001193", vi.path)
    _add_human(root, "vi", "p-1-000656", vi.path)
    catalogue = PromptCatalogue(root, reg)
    assert catalogue.resolve("p-1-001193", "hmn").record.language == "hmn"
    human_vi = catalogue.resolve("p-1-000656", "vi")
    assert human_vi.record.synthetic is False  # a human recording wins over the synthetic one


@pytest.mark.parametrize(
    ("fmt", "rate", "codec"),
    [
        (AudioFormat.WAV16K, 16000, "pcm_s16le"),
        (AudioFormat.OPUS, 48000, "opus"),  # Opus decodes at 48 kHz; encoded from 16 kHz
        (AudioFormat.MP3, 16000, "mp3"),
        (AudioFormat.ULAW8K, 8000, "pcm_mulaw"),
    ],
)
def test_transcoding_to_each_channel_format(synthesized, tmp_path, fmt, rate, codec):
    root, _ = synthesized
    source = root / "vi" / "p-1-001193.tts.ogg"
    out = transcode(source, fmt, tmp_path / "cache")
    assert transcode(source, fmt, tmp_path / "cache") == out  # cached by content
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)], capture_output=True, check=True
        ).stdout
    )["streams"][0]
    assert probe["codec_name"] == codec and int(probe["channels"]) == 1 and int(probe["sample_rate"]) == rate
    original = AudioSegment.from_file(source).duration_seconds
    assert AudioSegment.from_file(out).duration_seconds == pytest.approx(original, abs=0.1)


def test_slin8k_is_raw_telephone_pcm(synthesized, tmp_path):
    root, _ = synthesized
    source = root / "vi" / "p-1-001193.tts.ogg"
    out = transcode(source, AudioFormat.SLIN8K, tmp_path / "cache")
    seconds = out.stat().st_size / 2 / 8000
    assert seconds == pytest.approx(AudioSegment.from_file(source).duration_seconds, abs=0.1)


def test_http_delivery_and_answer_audio_url(synthesized, tmp_path):
    root, corpus_path = synthesized
    settings = Settings(
        corpus_path=corpus_path, prompts_dir=root, data_dir=tmp_path, use_embeddings=False, asr_engine="none"
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        body = client.post(
            "/v1/search", json={"text": "làm giấy khai sinh cho con", "language": "tai", "channel": "ivr"}
        ).json()
        assert body["decision"] == "answer"
        assert body["language"] == "vi"  # no Thái recording yet: Vietnamese served, and said so
        assert body["answer_audio_url"] == "/v1/prompts/vi/p-1-001193?format=ulaw8k"
        oos = client.post("/v1/search", json={"text": "giá vàng hôm nay bao nhiêu"}).json()
        assert oos["answer_audio_url"] == "/v1/prompts/vi/sys-out-of-scope?format=opus"

        res = client.get(body["answer_audio_url"])
        assert res.status_code == 200 and res.headers["content-type"] == "audio/wav"
        assert res.headers["x-prompt-synthetic"] == "true" and res.headers["x-prompt-language"] == "vi"
        etag = res.headers["etag"]
        again = client.get(body["answer_audio_url"], headers={"if-none-match": etag})
        assert again.status_code == 304
        part = client.get("/v1/prompts/vi/p-1-001193?format=opus", headers={"range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100

        assert client.get("/v1/prompts/vi/p-9-999999").status_code == 404
        assert client.get("/v1/prompts/xx/p-1-001193").status_code == 404
        assert client.get("/v1/prompts/vi/p-1-001193?format=flac").status_code == 422
        bad = client.get("/v1/prompts/vi/..%2F..%2Fetc%2Fpasswd")
        assert bad.status_code in (404, 422) and "error" in bad.json()


def test_coverage_and_worklist_on_a_fixture_catalogue(synthesized, tmp_path):
    import csv
    import io
    import shutil

    source_root, corpus_path = synthesized
    root = tmp_path / "prompts"
    shutil.copytree(source_root, root)
    (root / HUMAN_MANIFEST).unlink(missing_ok=True)
    sample = root / "vi" / "p-1-001193.tts.ogg"
    _add_human(root, "hmn", "p-1-001193", sample)
    _add_human(root, "vi", "p-1-000656", sample)
    settings = Settings(
        corpus_path=corpus_path, prompts_dir=root, data_dir=tmp_path, use_embeddings=False, asr_engine="none"
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        summary = client.get("/v1/prompts/coverage").json()["languages"]
        # 28 prompts (no life events beside this corpus: no tile names); all synthetic in vi
        # except the human p-1-000656
        assert summary["vi"]["all"] == {"human": 1, "synthetic": 27, "missing": 0}
        assert summary["hmn"]["all"] == {"human": 1, "synthetic": 0, "missing": 27}
        assert summary["tai"]["all"] == {"human": 0, "synthetic": 0, "missing": 28}
        # essential: answer + title of the essential procedure, 21 system prompts, 3 language names
        assert summary["vi"]["essential"]["human"] + summary["vi"]["essential"]["synthetic"] == 26

        rows = list(csv.reader(io.StringIO(client.get("/v1/prompts/coverage", params={"format": "csv"}).text)))
        assert rows[0] == ["prompt_id", "code", "name", "essential", "vi", "hmn", "tai"]
        assert rows[1][3] == "true"  # essential first
        page = client.get("/v1/prompts/coverage", params={"format": "html"})
        assert page.headers["content-type"].startswith("text/html") and "Lus Hmoob" in page.text

        work = client.get("/v1/prompts/worklist", params={"language": "hmn"})
        assert work.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(work.text)))
        ids = [line[0] for line in lines[1:]]
        assert "p-1-001193" not in ids and "p-1-000656" in ids and "lang-hmn" in ids and len(ids) == 27
        assert lines[1][0] == "sys-not-recorded"  # what every answer in hmn needs before anything else
        assert lines[1][3] == "true" and lines[1][5]  # essential first, with the Vietnamese text to translate
        assert client.get("/v1/prompts/worklist", params={"language": "zz"}).status_code == 404
        assert client.get("/v1/prompts/worklist").status_code == 422
