"""Picks up corpus and prompt edits while serving: staff fix an answer, callers hear it next."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from service.answers.prompts import HUMAN_MANIFEST, SYNTHETIC_MANIFEST
from service.corpus import InvalidCorpusError
from service.lookup import Lookup

log = logging.getLogger(__name__)


def _stamp(paths: list[Path]) -> tuple[tuple[int, int], ...]:
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


class FileWatcher:
    """Polls the corpus file and prompt manifests; reloads the lookup when one changes."""

    def __init__(self, lookup: Lookup, interval_s: float) -> None:
        self._lookup = lookup
        self._interval = interval_s
        settings = lookup.settings
        self._paths = [
            settings.corpus_path,
            settings.prompts_dir / HUMAN_MANIFEST,
            settings.prompts_dir / SYNTHETIC_MANIFEST,
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="file-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        seen = _stamp(self._paths)
        while not self._stop.wait(self._interval):
            now = _stamp(self._paths)
            if now == seen or not self._lookup.ready:
                continue
            seen = now
            try:
                self._lookup.reload()
            except InvalidCorpusError as exc:
                log.error("edited corpus is invalid; still serving the previous one:\n%s", exc)
            except Exception:
                log.exception("reload failed; still serving the previous corpus")
