"""Vietnamese text normalisation for matching.

Citizens type (or ASR produces) text with or without tone marks, with chat abbreviations
and with politeness words that say nothing about which procedure is meant. Matching works on
two forms of the same cleaned text: `accented` (NFC, lower case) and `folded` (tone marks and
đ removed), so "giấy khai sinh" and "giay khai sinh" meet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")

# Chat spellings and abbreviations -> standard words (matched on whole tokens, folded form).
_ABBREVIATIONS: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kh": "không",
    "hok": "không",
    "hong": "không",
    "khong": "không",
    "dc": "được",
    "đc": "được",
    "dk": "được",
    "duoc": "được",
    "j": "gì",
    "gi": "gì",
    "bn": "bao nhiêu",
    "bnhieu": "bao nhiêu",
    "ntn": "như thế nào",
    "tn": "thế nào",
    "bh": "bao giờ",
    "mk": "mình",
    "mik": "mình",
    "e": "em",
    "vk": "vợ",
    "ck": "chồng",
    "cmnd": "chứng minh nhân dân",
    "cccd": "căn cước công dân",
    "gks": "giấy khai sinh",
    "gcn": "giấy chứng nhận",
    "qsdd": "quyền sử dụng đất",
    "qsd": "quyền sử dụng",
    "bhyt": "bảo hiểm y tế",
    "bhxh": "bảo hiểm xã hội",
    "bhtn": "bảo hiểm thất nghiệp",
    "ubnd": "ủy ban nhân dân",
    "hkd": "hộ kinh doanh",
    "tt": "thủ tục",
    "tthc": "thủ tục hành chính",
    "sđt": "số điện thoại",
    "sdt": "số điện thoại",
    "z": "vậy",
    "v": "vậy",
    "ad": "",
    "admin": "",
}

# Politeness and filler phrases: they carry no procedure meaning. Longest first.
_FILLER_PHRASES: tuple[str, ...] = (
    "cho em hỏi chút",
    "cho em hỏi",
    "cho mình hỏi",
    "cho tôi hỏi",
    "cho cháu hỏi",
    "cho con hỏi",
    "cho chị hỏi",
    "cho anh hỏi",
    "em muốn hỏi",
    "tôi muốn hỏi",
    "mình muốn hỏi",
    "xin hỏi",
    "làm ơn",
    "cán bộ ơi",
    "chị ơi",
    "anh ơi",
    "em ơi",
    "dạ thưa",
    "thưa",
)
# Sentence particles: removed anywhere as whole words.
_FILLER_WORDS = frozenset({"ạ", "ạh", "à", "ơi", "nhé", "nha", "nhỉ", "hả", "dạ", "vậy", "thế", "hen", "ha"})
# Words that end a question and say nothing about the procedure, dropped only at the end.
_TRAILING_WORDS = frozenset({"với", "đi", "luôn", "không", "chưa"})


def _fold_by_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped).replace("đ", "d").replace("Đ", "D")


def _latin_fold_table() -> dict[int, str | None]:
    """Each accented Latin letter to its folded form, combining marks to nothing."""
    table: dict[int, str | None] = {cp: None for cp in range(0x300, 0x370)}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        folded = _fold_by_unicode(chr(cp))
        if folded != chr(cp) and folded.isascii():
            table[cp] = folded
    return table


_FOLD_TABLE = _latin_fold_table()


def fold(text: str) -> str:
    """Remove tone marks and diacritics; đ -> d. Expects NFC or NFD input.

    Vietnamese folds through a translation table (the corpus folds 770,000 strings while the
    matcher is built: start-up time); any other script takes the full Unicode route.
    """
    if text.isascii():
        return text
    folded = text.translate(_FOLD_TABLE)
    return folded if folded.isascii() else _fold_by_unicode(folded)


def clean(text: str) -> str:
    """NFC, lower case, punctuation to spaces, single spaces."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


_FOLDED_ABBREV = {fold(k): v for k, v in _ABBREVIATIONS.items()}
_FOLDED_FILLER_PHRASES = tuple(sorted({fold(p) for p in _FILLER_PHRASES}, key=len, reverse=True))
_FOLDED_FILLER_WORDS = frozenset(fold(w) for w in _FILLER_WORDS)
_FOLDED_TRAILING = frozenset(fold(w) for w in _TRAILING_WORDS)


def _expand_abbreviations(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        repl = _ABBREVIATIONS.get(tok)
        if repl is None and tok == fold(tok):
            repl = _FOLDED_ABBREV.get(tok)
        if repl is None:
            out.append(tok)
        elif repl:
            out.extend(repl.split())
    return out


def _drop_fillers(tokens: list[str]) -> list[str]:
    folded = [fold(t) for t in tokens]
    keep = [True] * len(tokens)
    joined = " ".join(folded)
    for phrase in _FOLDED_FILLER_PHRASES:
        n = len(phrase.split())
        for m in re.finditer(rf"(?:^|(?<= )){re.escape(phrase)}(?= |$)", joined):
            start = joined[: m.start()].count(" ")
            for i in range(start, start + n):
                keep[i] = False
    # Unaccented particles are ambiguous ("vay" is vậy or vay vốn, "the" is thế or thẻ):
    # drop them only at the end of the question, where they are particles.
    for i, tok in enumerate(tokens):
        if tok in _FILLER_WORDS:
            keep[i] = False
    kept = [t for t, k in zip(tokens, keep, strict=True) if k]
    trailing = _TRAILING_WORDS | _FILLER_WORDS
    folded_trailing = _FOLDED_TRAILING | _FOLDED_FILLER_WORDS
    while kept and (kept[-1] in trailing or (kept[-1] == fold(kept[-1]) and kept[-1] in folded_trailing)):
        kept.pop()
    return kept or tokens


@dataclass(frozen=True)
class NormalizedText:
    accented: str
    folded: str

    @property
    def has_marks(self) -> bool:
        """Typed with tone marks (or đ): a third of citizens type without them."""
        return self.accented != self.folded


def normalize(text: str, drop_fillers: bool = True) -> NormalizedText:
    """Normalise a query or a corpus phrase into its accented and folded forms."""
    tokens = _expand_abbreviations(clean(text).split())
    if drop_fillers:
        tokens = _drop_fillers(tokens)
    accented = " ".join(tokens)
    return NormalizedText(accented=accented, folded=fold(accented))
