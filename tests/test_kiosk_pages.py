"""The kiosk as a citizen who cannot read uses it: pictures, spoken names, her own language,
a printed checklist, a QR code, and a service that goes away. Headless Debian Chromium against
a real uvicorn server with the built-in corpus and the synthetic prompts setup renders.

Spoken questions (tap and hold) are in test_channels_web.py. Screenshots and the printed PDFs
land in build/test-artifacts/.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pypdf
import pytest
import zxingcpp

from service.config import PROJECT_ROOT
from tests.browser import ARTIFACTS, launch, shot, wait_played, wait_until
from tests.server import live_server

pytestmark = pytest.mark.slow

BIRTH = "1.001193"
UNAVAILABLE_VI = "Máy đang bận, mời bà con gặp cán bộ một cửa."
SCREEN = {"width": 1366, "height": 768}


def _env() -> dict[str, str]:
    prompts = PROJECT_ROOT / "audio_prompts"
    if not (prompts / "vi" / "tile-birth.tts.ogg").is_file():
        pytest.fail(
            "the synthetic Vietnamese prompts are missing: run scripts/setup.sh (tthc-voice prompts synthesize)"
        )
    return {"TTHC_USE_EMBEDDINGS": "false", "TTHC_ASR_ENGINE": "none", "TTHC_RATE_LIMIT_PER_MINUTE": "0"}


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory) -> Iterator[str]:
    with live_server(_env(), tmp_path_factory.mktemp("kiosk")) as base:
        yield base


def _open(playwright, base: str, query: str = ""):
    browser = launch(playwright)
    page = browser.new_page(viewport=SCREEN)
    page.goto(f"{base}/kiosk{query}")
    page.wait_for_selector("body[data-state=idle]")
    return browser, page


def _playlog(page) -> list[str]:
    return (page.evaluate("document.getElementById('player').dataset.playlog") or "").split()


def test_kiosk_tile_plays_its_name_then_its_answer_and_pages_reach_every_essential_procedure(kiosk, playwright):
    tiles = httpx.get(f"{kiosk}/v1/kiosk/tiles").json()
    browser, page = _open(playwright, kiosk)
    assert page.locator(".tile:not(.nav)").count() == 11 and page.locator(".tile svg").count() == 12
    shot(page, "kiosk-tiles")
    page.locator(f".tile[data-code='{BIRTH}']").click()
    page.wait_for_selector("body[data-state=answer]")
    wait_played(page, "p-1-001193", timeout_s=30)
    log = _playlog(page)
    assert log.index("/v1/prompts/vi/tile-birth?format=wav16k") < log.index("/v1/prompts/vi/p-1-001193?format=wav16k")
    assert page.locator("#answer-title").inner_text().lower().startswith("đăng ký khai sinh")
    grid = page.locator("#grid").bounding_box()
    assert grid["y"] + grid["height"] <= SCREEN["height"], "the tiles dropped below the screen after an answer"
    shot(page, "kiosk-tile-answer")

    reached: list[str] = []
    for _ in range(10):  # page through with the "more" tile until it turns back to the start
        reached += page.locator(".tile[data-code]").evaluate_all("els => els.map(e => e.dataset.code)")
        nav = page.locator(".tile.nav")
        back = nav.inner_text() == "Về trang đầu"
        nav.click()
        if back:
            break
    assert reached == [t["code"] for t in tiles]
    essential = {
        json.loads(line)["code"]
        for line in (PROJECT_ROOT / "corpus" / "procedures.jsonl").open()
        if '"essential": true' in line
    }
    assert essential <= set(reached)
    assert page.locator("#grid").get_attribute("data-page") == "0"
    browser.close()


def test_kiosk_in_hmong_shows_hmong_or_vietnamese_words_and_says_not_recorded_before_the_answer(kiosk, playwright):
    browser, page = _open(playwright, kiosk)
    page.get_by_role("button", name="Lus Hmoob").click()
    wait_until(page, "document.getElementById('hello').textContent === 'Nyob zoo'")
    assert page.locator("#hello").get_attribute("lang") == "hmn"
    # nothing sure in H'Mông yet for the button: Vietnamese shows, marked as Vietnamese
    assert page.locator("#ptt-label").inner_text() == "Chạm vào nút này rồi nói"
    assert page.locator("#ptt-label").get_attribute("lang") == "vi"
    page.locator(f".tile[data-code='{BIRTH}']").click()
    page.wait_for_selector("body[data-state=answer]")
    assert page.locator("#not-recorded").is_visible()
    wait_played(page, "p-1-001193", timeout_s=40)
    log = _playlog(page)
    order = [
        log.index("/v1/prompts/vi/tile-birth?format=wav16k"),
        log.index("/v1/prompts/vi/sys-not-recorded?format=wav16k"),
        log.index("/v1/prompts/vi/p-1-001193?format=wav16k"),
    ]
    assert order == sorted(order), log
    shot(page, "kiosk-hmong-not-recorded")
    browser.close()


def _squash(text: str) -> str:
    # The PDF breaks lines anywhere, and some official texts carry combining tone marks.
    return "".join(unicodedata.normalize("NFC", text).split())


def test_kiosk_prints_the_full_document_list_and_its_qr_code_holds_the_answer(kiosk, playwright):
    answer = httpx.get(f"{kiosk}/v1/answers/{BIRTH}").json()
    assert len(answer["documents"]) >= 5
    browser, page = _open(playwright, kiosk)
    page.locator(f".tile[data-code='{BIRTH}']").click()
    page.wait_for_selector("body[data-state=answer]")
    assert page.locator("#print").is_visible()
    wait_until(page, "document.getElementById('qr-img').complete && document.getElementById('qr-img').naturalWidth > 0")

    # The QR code, read off the screen pixels by a decoder: the answer text itself.
    pixels = page.evaluate(
        """() => {
          const img = document.getElementById('qr-img');
          const c = document.createElement('canvas');
          c.width = img.naturalWidth * 2; c.height = img.naturalHeight * 2;
          const ctx = c.getContext('2d');
          ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
          ctx.drawImage(img, 0, 0, c.width, c.height);
          const d = ctx.getImageData(0, 0, c.width, c.height).data;
          return {w: c.width, h: c.height, gray: Array.from(d.filter((_, i) => i % 4 === 0))};
        }"""
    )
    image = np.array(pixels["gray"], dtype=np.uint8).reshape(pixels["h"], pixels["w"])
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [answer["answer_text"]]

    for size in ("A5", "A4"):
        pdf_path = ARTIFACTS / f"kiosk-print-{size.lower()}.pdf"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(pdf_path), format=size)
        printed = _squash(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf_path).pages))
        for doc in answer["documents"]:
            line = f"{doc['name']} ({doc['quantity']})" if doc["quantity"] else doc["name"]
            assert _squash(line) in printed, f"{size}: missing document {line!r}"
        assert _squash(answer["agency"]) in printed and _squash(answer["processing_time"]) in printed
        assert _squash(answer["name"]) in printed
        assert _squash("Thủ tục thường gặp") not in printed  # only the checklist goes on paper
    browser.close()


def test_kiosk_typed_question_is_answered_and_the_text_size_button_grows_the_words(kiosk, playwright):
    browser, page = _open(playwright, kiosk)
    page.fill("#question", "làm giấy khai sinh cho con")
    page.click("#typed-go")
    page.wait_for_selector("body:is([data-state=answer], [data-state=clarify])")
    assert (
        page.locator("body").get_attribute("data-code") == BIRTH
        or page.locator(f".choice[data-code='{BIRTH}']").count()
    )
    assert page.locator("#heard").inner_text() == "Bà con hỏi: “làm giấy khai sinh cho con”"
    size = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    before = page.evaluate(size)
    page.click("#text-size")
    assert page.evaluate(size) > before
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]
    shot(page, "kiosk-typed-bigger-text")
    browser.close()


def test_kiosk_with_the_service_stopped_says_so_in_vietnamese_and_kept_tiles_still_answer(playwright, tmp_path: Path):
    browser = launch(playwright)
    page = browser.new_page(viewport=SCREEN)
    with live_server(_env(), tmp_path) as base:
        page.goto(f"{base}/kiosk")
        page.wait_for_selector("body[data-state=idle]")
        wait_until(page, "Number(document.body.dataset.cached || 0) >= 2", timeout_s=60)
    # The service is gone now.
    first = page.locator(".tile[data-code]").first
    code = first.get_attribute("data-code")
    first.click()
    page.wait_for_selector("body[data-state=answer]")
    assert page.locator("body").get_attribute("data-code") == code
    wait_played(page, f"p-{code.replace('.', '-')}", timeout_s=40)

    page.fill("#question", "đăng ký kết hôn")
    page.click("#typed-go")
    page.wait_for_selector("body[data-state=error]")
    assert page.locator("#status").inner_text() == UNAVAILABLE_VI
    assert page.locator("#retry").is_visible() and page.locator("#retry").inner_text() == "Thử lại"
    wait_played(page, "sys-unavailable")
    shot(page, "kiosk-service-stopped")
    browser.close()
