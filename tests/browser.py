"""Headless Debian Chromium driven by Playwright, with a fake microphone, for the page tests.

Screenshots land in build/test-artifacts/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from service.config import PROJECT_ROOT
from tests.ci import missing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = PROJECT_ROOT / "build" / "test-artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def launch(playwright, wav: Path | None = None):
    """Chromium whose microphone plays `wav` once (then silence), or a fake tone when None."""
    if CHROMIUM is None:
        missing("Debian chromium is not installed (apt-get install chromium)")
    args = list(BROWSER_ARGS)
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}%noloop")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_until(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a page expression from here: wait_for_function polls through eval, which a page's
    Content-Security-Policy (the portal's) forbids, while page.evaluate is not subject to it."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.1)


PLAYER = "document.getElementById('player')"


def wait_played(page, fragment: str, element: str = PLAYER, timeout_s: float = 15.0) -> None:
    wait_until(page, f"({element}.dataset.played || '').includes('{fragment}')", timeout_s)


def press_button(page, selector: str, seconds: float) -> None:
    """Press with the mouse for `seconds`: a tap when short, holding when long."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    time.sleep(seconds)
    page.mouse.up()
