"""What the kiosk page is built from: its tiles, its strings, the not-recorded prompt, the QR code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.answers.languages import DEFAULT_LANGUAGES, LanguageRegistry
from service.answers.prompts import FIRST_TO_RECORD, prompt_texts
from service.answers.tiles import LifeEvent, kiosk_tiles, load_life_events, tile_names, tile_prompt_id
from service.app import create_app
from service.channels.kiosk import BUILT_IN_STRINGS
from service.channels.pages import STATIC_DIR
from service.config import PROJECT_ROOT, Settings
from service.corpus import load_corpus
from tests.conftest import SMALL_LIFE_EVENTS

KIOSK_JS = (STATIC_DIR / "kiosk.js").read_text(encoding="utf-8")
KIOSK_HTML = (STATIC_DIR / "kiosk.html").read_text(encoding="utf-8")


def _icons_drawn_by_the_page() -> set[str]:
    block = KIOSK_JS[KIOSK_JS.index("const ICONS = {") : KIOSK_JS.index("};", KIOSK_JS.index("const ICONS = {"))]
    return set(re.findall(r'^\s+"?([a-z-]+)"?: "M', block, flags=re.MULTILINE))


def test_shipped_life_events_name_real_procedures_with_pictures_the_page_draws():
    corpus = load_corpus(PROJECT_ROOT / "corpus" / "procedures.jsonl")
    raw = json.loads((PROJECT_ROOT / "corpus" / "life_events.json").read_text(encoding="utf-8"))
    events = load_life_events(PROJECT_ROOT / "corpus" / "life_events.json", corpus)
    assert len(events) == len(raw) >= 12  # none dropped for a missing procedure
    icons = _icons_drawn_by_the_page()
    tiles = kiosk_tiles(corpus, events, {})
    assert {t.icon for t in tiles} <= icons, "a tile names an icon kiosk.js does not draw"
    assert all(len(e.label.split()) <= 6 for e in events)  # short plain names
    texts = prompt_texts(corpus, LanguageRegistry(languages=DEFAULT_LANGUAGES), tile_names(events))
    assert all(texts[tile_prompt_id(e.id)][1] == e.label for e in events)  # each tile's name can be recorded


def test_tiles_put_life_events_first_most_asked_first_and_reach_every_essential_procedure():
    corpus = load_corpus(PROJECT_ROOT / "corpus" / "procedures.jsonl")
    events = load_life_events(PROJECT_ROOT / "corpus" / "life_events.json", corpus)
    marriage = next(e.code for e in events if e.id == "marriage")
    unemployment = "1.014748"  # an essential procedure no life event names
    tiles = kiosk_tiles(corpus, events, {marriage: 5, unemployment: 9})
    codes = [t.code for t in tiles]
    assert len(codes) == len(set(codes)), "two tiles answer the same procedure"
    assert tiles[0].code == marriage and tiles[0].asked == 5
    assert [t.life_event for t in tiles] == sorted((t.life_event for t in tiles), reverse=True)
    first_other = next(t for t in tiles if not t.life_event)
    assert first_other.code == unemployment and first_other.name_prompt_id.endswith("-title")
    assert {p.code for p in corpus.procedures if p.essential} <= set(codes)
    # with no questions logged, the file's order stands
    assert [t.code for t in kiosk_tiles(corpus, events, {})][: len(events)] == [e.code for e in events]


def test_life_events_file_is_validated_and_unknown_procedures_are_left_out(tmp_path: Path, small_corpus_path):
    corpus = load_corpus(small_corpus_path)
    path = tmp_path / "life_events.json"
    path.write_text(json.dumps([*SMALL_LIFE_EVENTS, {**SMALL_LIFE_EVENTS[0], "id": "x", "code": "9.999999"}]))
    assert [e.id for e in load_life_events(path, corpus)] == [e["id"] for e in SMALL_LIFE_EVENTS]
    path.write_text(json.dumps([SMALL_LIFE_EVENTS[0], SMALL_LIFE_EVENTS[0]]))
    with pytest.raises(ValueError, match="unique"):
        load_life_events(path, corpus)
    path.write_text(json.dumps([{**SMALL_LIFE_EVENTS[0], "icon": "<svg>"}]))
    with pytest.raises(ValueError):
        load_life_events(path, corpus)
    assert load_life_events(tmp_path / "absent.json", corpus) == ()
    assert isinstance(load_life_events(PROJECT_ROOT / "corpus" / "life_events.json", corpus), tuple)
    assert LifeEvent(id="a", label="ab", icon="baby", code="1.001193").icon == "baby"


def test_vietnamese_strings_cover_every_word_the_page_shows():
    vi = json.loads((BUILT_IN_STRINGS / "vi.json").read_text(encoding="utf-8"))
    used = set(re.findall(r'data-s(?:-placeholder)?="([a-z_]+)"', KIOSK_HTML))
    used |= set(re.findall(r'\bt\("([a-z_]+)"\)', KIOSK_JS))
    used |= set(re.findall(r'"(ptt_listening_(?:hold|tap))"', KIOSK_JS))
    assert used, "the page uses no strings at all?"
    assert used <= set(vi), f"missing in vi.json: {sorted(used - set(vi))}"
    for code in ("hmn", "tai"):
        other = json.loads((BUILT_IN_STRINGS / f"{code}.json").read_text(encoding="utf-8"))
        entries = {k: v for k, v in other.items() if not k.startswith("_")}
        assert set(entries) <= set(vi), f"{code}.json has keys the page does not use"
        assert all(v["reviewed"] is False for v in entries.values()), "no native speaker has reviewed these yet"


@pytest.fixture
def small_site_client(synthesized_site: Path, tmp_path: Path):
    settings = Settings(
        corpus_path=synthesized_site / "procedures.jsonl",
        prompts_dir=synthesized_site / "prompts",
        data_dir=tmp_path,
        use_embeddings=False,
        asr_engine="none",
        rate_limit_per_minute=0,
        kiosk_strings_dir=tmp_path / "strings",
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        yield client


def test_strings_come_in_the_chosen_language_or_vietnamese_and_say_which(small_site_client, tmp_path: Path):
    vi = small_site_client.get("/v1/kiosk/strings", params={"language": "vi"}).json()
    hmn = small_site_client.get("/v1/kiosk/strings", params={"language": "hmn"}).json()
    assert set(hmn["strings"]) == set(vi["strings"])  # never a blank on screen
    assert hmn["strings"]["hello"] == "Nyob zoo" and "hello" not in hmn["from_language"]
    assert hmn["strings"]["ptt_idle"] == vi["strings"]["ptt_idle"] and hmn["from_language"]["ptt_idle"] == "vi"
    assert hmn["unreviewed"] == ["hello"] and vi["unreviewed"] == [] and vi["from_language"] == {}
    # A province adds its own words by dropping a file in TTHC_KIOSK_STRINGS_DIR: no code change.
    (tmp_path / "strings").mkdir()
    (tmp_path / "strings" / "tai.json").write_text(json.dumps({"retry": {"text": "(thử)", "reviewed": True}}))
    tai = small_site_client.get("/v1/kiosk/strings", params={"language": "tai"}).json()
    assert tai["strings"]["retry"] == "(thử)" and "retry" not in tai["from_language"] and tai["unreviewed"] == []
    bad = small_site_client.get("/v1/kiosk/strings", params={"language": "xx"})
    assert bad.status_code == 422 and "unknown language" in bad.json()["error"]


def test_answer_in_a_language_without_its_recording_brings_the_not_recorded_prompt(small_site_client):
    hmn = small_site_client.get("/v1/answers/1.001193", params={"language": "hmn", "channel": "kiosk"}).json()
    assert (hmn["language"], hmn["requested_language"]) == ("vi", "hmn")
    assert hmn["not_recorded_audio_url"] == "/v1/prompts/vi/sys-not-recorded?format=wav16k"
    assert small_site_client.get(hmn["not_recorded_audio_url"]).status_code == 200
    assert hmn["documents"] and hmn["documents"][0]["name"]
    assert hmn["qr_url"] == "/v1/answers/1.001193/qr.svg"
    vi = small_site_client.get("/v1/answers/1.001193", params={"language": "vi", "channel": "kiosk"}).json()
    assert vi["not_recorded_audio_url"] is None


def test_worklist_of_each_language_starts_with_the_not_recorded_prompt_and_lists_tile_names(small_site_client):
    rows = small_site_client.get("/v1/prompts/worklist", params={"language": "hmn"}).text.splitlines()
    assert rows[1].startswith(f"{FIRST_TO_RECORD[0]},")
    assert any(r.startswith(f"{tile_prompt_id('birth')},") and "Khai sinh cho con" in r for r in rows)


def test_tiles_endpoint_orders_by_what_people_asked_and_speaks_each_name(small_site_client):
    before = small_site_client.get("/v1/kiosk/tiles", params={"language": "tai"}).json()
    assert [t["code"] for t in before] == [e["code"] for e in SMALL_LIFE_EVENTS]  # no questions yet
    assert before[0]["name_audio_url"] == "/v1/prompts/vi/tile-birth?format=wav16k"
    for _ in range(2):
        reply = small_site_client.post("/v1/search", json={"text": "đăng ký kết hôn", "channel": "kiosk"}).json()
        assert reply["decision"] == "answer" and reply["matches"][0]["code"] == "1.000894"
    after = small_site_client.get("/v1/kiosk/tiles", params={"language": "tai"}).json()
    assert after[0]["code"] == "1.000894" and after[0]["asked"] == 2
    assert small_site_client.get("/v1/kiosk/tiles", params={"language": "xx"}).status_code == 422


def test_qr_endpoint_serves_an_svg_and_refuses_unknown_codes(small_site_client):
    svg = small_site_client.get("/v1/answers/1.001193/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and "<path" in svg.text
    assert small_site_client.get("/v1/answers/9.999999/qr.svg").status_code == 404


def test_kiosk_page_carries_its_settings_and_vietnamese_words(small_site_client):
    page = small_site_client.get("/kiosk").text
    config = json.loads(re.search(r'<script id="kiosk-config" type="application/json">(.*?)</script>', page).group(1))
    assert config["idleSeconds"] == 60 and config["listenSeconds"] == 12
    assert config["strings"]["unavailable"] == "Máy đang bận, mời bà con gặp cán bộ một cửa."
