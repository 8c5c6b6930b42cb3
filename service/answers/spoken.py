"""Text as it is said: numbers, money, dates and abbreviations in words, no symbols.

espeak-ng reads "10,000 VNĐ" as "mười phẩy không không không", "BHYT" letter by letter and a
slash as "xuyệt"; a citizen who hears that once cannot act on it. Every answer and system
prompt goes through `speakable` before synthesis, and `spoken_problems` is the linter that
`corpus validate` and the tests run over every answer. Numbers are read the northern way
("một trăm lẻ năm", "hai nghìn không trăm hai mươi lăm"); num2words gets the second one wrong.
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_GROUPS = ("", "nghìn", "triệu", "tỷ")


def _below_thousand(n: int, full: bool) -> list[str]:
    """Words for 0 < n < 1000; `full` reads the hundreds even when zero (after a higher group)."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    out: list[str] = []
    if hundreds or full:
        out += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            out += (["lẻ"] if out else []) + [_DIGITS[units]]
    elif tens == 1:
        out.append("mười")
        if units:
            out.append("lăm" if units == 5 else _DIGITS[units])
    else:
        out += [_DIGITS[tens], "mươi"]
        if units:
            out.append({1: "mốt", 5: "lăm"}.get(units, _DIGITS[units]))
    return out


def number_words(n: int) -> str:
    """An integer in Vietnamese words: 21 → "hai mươi mốt", 10000 → "mười nghìn"."""
    if n < 0:
        return "âm " + number_words(-n)
    if n == 0:
        return "không"
    if n >= 1000**4:
        high, low = divmod(n, 1000**3)
        rest = number_words(low) if low else ""
        return f"{number_words(high)} tỷ {rest}".strip()
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _below_thousand(group, full=bool(words))
        if _GROUPS[index]:
            words.append(_GROUPS[index])
    return " ".join(words)


def _int(text: str) -> int:
    return int(re.sub(r"[.,\s]", "", text))


def _decimal_words(whole: str, fraction: str) -> str:
    return f"{number_words(_int(whole))} phẩy {number_words(int(fraction))}"


# Read out as words: desk abbreviations a citizen would otherwise hear letter by letter.
ABBREVIATIONS: dict[str, str] = {
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "BHXH": "bảo hiểm xã hội",
    "BHYT": "bảo hiểm y tế",
    "BHTN": "bảo hiểm thất nghiệp",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "CMTND": "chứng minh nhân dân",
    "TTHC": "thủ tục hành chính",
    "GCN": "giấy chứng nhận",
    "QSDĐ": "quyền sử dụng đất",
    "VNĐ": "đồng",
    "VND": "đồng",
    "đ": "đồng",
    "TP": "thành phố",
    "LĐTBXH": "Lao động, Thương binh và Xã hội",
    "MTTQ": "Mặt trận Tổ quốc",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "STT": "số thứ tự",
    "SĐT": "số điện thoại",
}
_ABBREVIATION = re.compile(
    r"(?<![\wÀ-ỹ])(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)) + r")(?![\wÀ-ỹ])"
)

_NUMBER = r"\d{1,3}(?:[.,]\d{3})+|\d+"
# An amount of money as the portal writes it: "10,000 VNĐ", "2.000đ", "400,000 Việt Nam Đồng".
MONEY = re.compile(rf"({_NUMBER})\s*(?:VNĐ|VND|Việt Nam Đồng|đồng|đ)(?![\wÀ-ỹ])", re.IGNORECASE)


def money_amounts(text: str) -> set[int]:
    """Every amount of money a text names, in đồng ("10,000 VNĐ" and "10.000 đồng" are one)."""
    return {_int(m) for m in MONEY.findall(text)}


_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_MONTH_YEAR = re.compile(r"\b(\d{1,2})/(\d{4})\b")
_PERCENT = re.compile(rf"({_NUMBER})(?:[.,](\d+))?\s*%")
_DECIMAL = re.compile(r"\b(\d+),(\d{1,2})\b(?!\d)")
_RANGE = re.compile(rf"\b({_NUMBER})\s*[-–]\s*({_NUMBER})\b")
_PLAIN_NUMBER = re.compile(rf"\b({_NUMBER})\b")
_LIST_MARK = re.compile(r"(?:(?<=^)|(?<=[\s:;]))(?:[a-zđ]\)|\d+[.)]|[-+*•])\s+", re.IGNORECASE)


def speakable(text: str) -> str:
    """The text with every number, date, amount, abbreviation and symbol turned into words."""
    text = unicodedata.normalize("NFC", text)
    text = _LIST_MARK.sub("", text)
    text = _DATE.sub(
        lambda m: f"ngày {number_words(int(m[1]))} tháng {number_words(int(m[2]))} năm {number_words(int(m[3]))}",
        text,
    )
    text = _MONTH_YEAR.sub(lambda m: f"tháng {number_words(int(m[1]))} năm {number_words(int(m[2]))}", text)
    text = MONEY.sub(lambda m: f"{number_words(_int(m[1]))} đồng", text)
    text = re.sub(r"đồng\s*/\s*(?=[\wÀ-ỹ])", "đồng một ", text)  # 10.000 đồng/bản: per copy
    text = _PERCENT.sub(
        lambda m: (_decimal_words(m[1], m[2]) if m[2] else number_words(_int(m[1]))) + " phần trăm", text
    )
    text = _DECIMAL.sub(lambda m: _decimal_words(m[1], m[2]), text)
    text = _RANGE.sub(lambda m: f"{number_words(_int(m[1]))} đến {number_words(_int(m[2]))}", text)
    text = _PLAIN_NUMBER.sub(lambda m: number_words(_int(m[1])), text)
    text = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m[1]], text)
    text = re.sub(r"\s*/\s*", " hoặc ", text)
    text = re.sub(r"\s*[;]\s*", ", ", text)
    text = re.sub(r"\s*[()\[\]]\s*", ", ", text)
    text = re.sub(r"\s*[&+]\s*", " và ", text)
    text = re.sub(r"[\"“”*#_=<>|~^]", "", text)
    text = re.sub(r"\s*,(\s*,)+", ",", text)
    text = re.sub(r",\s*([.?!])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


# Administrative levels the two-tier reform of 1 July 2025 abolished.
_ABOLISHED = re.compile(r"\b(thị trấn|huyện|quận|thị xã)\b", re.IGNORECASE)
_LETTERS = re.compile(r"(?<![\wÀ-ỹ])[A-ZĐ]{2,}(?![\wÀ-ỹ])")
MAX_ANSWER_WORDS = 45


def spoken_problems(text: str, *, max_words: int = MAX_ANSWER_WORDS, sentences: bool = True) -> list[str]:
    """What would sound wrong read aloud: symbols, digits, letters, cut sentences, old levels, length.

    `sentences=False` for names (titles, tiles, languages), which are not sentences.
    """
    problems = []
    if unicodedata.normalize("NFC", text) != text:
        problems.append("decomposed tone marks (not NFC)")
    if re.search(r"\d", text):
        problems.append("digits: " + ", ".join(sorted(set(re.findall(r"\S*\d\S*", text)))[:3]))
    symbols = sorted(set(re.findall(r"[/;%()\[\]&+*#=<>|~^…]", text)))
    if symbols:
        problems.append("symbols read aloud: " + " ".join(symbols))
    if re.search(r"(?:^|[\s:])[a-zđ]\)", text) or re.search(r"(?:^|\s)[-•]\s", text):
        problems.append("a lettered or bulleted list")
    letters = [w for w in _LETTERS.findall(text) if w not in ("VNeID",)]
    if letters:
        problems.append("abbreviations read as letters: " + ", ".join(sorted(set(letters))[:3]))
    abolished = sorted({m.lower() for m in _ABOLISHED.findall(text)})
    if abolished:
        problems.append("abolished administrative level: " + ", ".join(abolished))
    if sentences and not re.search(r"[.?!]$", text.strip()):
        problems.append("does not end a sentence")
    words = len(text.split())
    if words > max_words:
        problems.append(f"{words} words, more than {max_words}")
    return problems
