"""How a procedure's name and long texts are shortened for speech and buttons (server and importer)."""

from __future__ import annotations

import re


def clip(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def short_name(name: str) -> str:
    """Official name without the 'Thủ tục' prefix and trailing level notes, in lower case."""
    text = re.sub(r"^\s*(thủ tục|tthc)\s+", "", name.strip(), flags=re.IGNORECASE)
    text = re.sub(r"\s*\((cấp [^)]*|thực hiện tại [^)]*)\)\s*$", "", text, flags=re.IGNORECASE)
    return text.strip().rstrip(".").lower()
