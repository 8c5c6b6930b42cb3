"""Convert national public-service portal exports into the corpus schema.

The portal data is noisy (document lists split mid-sentence, fees buried in legal citations),
so this module cleans facts, writes a short spoken answer from them, and derives plain
aliases. Curated aliases, answers and prompt ids in an existing corpus are kept (`merge`):
re-importing refreshes facts without losing what people wrote by hand.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from service.answers.spoken import MAX_ANSWER_WORDS, money_amounts, number_words, speakable, spoken_problems
from service.corpus import CODE_PATTERN, Document, Procedure
from service.matching.referrals import Referral
from service.matching.textnorm import fold
from service.names import clip, short_name

log = logging.getLogger(__name__)

# Fields that never concern a citizen at the commune desk, even when the portal tags a
# procedure "Cấp xã" (customs, tax, shipping, treasury ...).
NON_CITIZEN_FIELDS = frozenset(
    {
        "Hải quan",
        "Thuế",
        "Hàng hải và đường thủy nội địa",
        "Kho bạc Nhà nước",
        "Biển và hải đảo",
        "Ứng phó sự cố tràn dầu BQP",
        "Quản lý công sản",
        "Địa chất và khoáng sản",
        "Quản lý thuế, phí, lệ phí và thu khác của ngân sách nhà nước",
        "Viễn thông và Internet",
        "Điện",
        "Du lịch",
        "Quản lý biên giới",
        "Tổ chức cán bộ",
        "Tổ chức, cán bộ",
        "Quản lý vũ khí, vật liệu nổ, công cụ hỗ trợ và pháo",
        "Thành lập và hoạt động của tổ hợp tác, hợp tác xã, liên hiệp hợp tác xã",
        "Thành lập và hoạt động của tổ hợp tác",
        "Đường bộ",
        "Giao thông vận tải",
        "Quản lý chất lượng công trình xây dựng",
        "Hạ tầng kỹ thuật",
        "Quy hoạch đô thị và nông thôn",
        "Quản lý lao động ngoài nước",
        "Phòng cháy, chữa cháy",
        "Tài nguyên nước",
        "Môi trường",
        "Quản lý chương trình mục tiêu quốc gia",
        "Quản lý nhà nước về hội, quỹ",
        "Thi đua, khen thưởng",
        "Thi đua - khen thưởng",
        "Quản lý xuất nhập cảnh",
    }
)

# Fields citizens ask the commune desk about although a province-level body decides: the
# desk receives the dossier or must say where to go (jobs, insurance, schools, vehicles).
CITIZEN_ASKED_FIELDS = frozenset(
    {
        "Việc làm",
        "Đăng ký, quản lý phương tiện giao thông cơ giới, xe máy chuyên dùng",
        "Thi, tuyển sinh",
        "Bảo hiểm xã hội",
        "Thực hiện chính sách BHXH",
        "Cấp sổ BHXH, thẻ BHYT",
        "Thu BHXH, BHYT, BHTN, BH tai nạn lao động, BNN",
        "Chi trả các chế độ BHXH",
        "Giáo dục và Đào tạo thuộc hệ thống giáo dục quốc dân",
        "Giáo dục nghề nghiệp (G07-LĐ06)",
        "Nuôi con nuôi",
        "Định danh và xác thực điện tử",
        "Bảo trợ xã hội",
        "Trợ giúp pháp lý",
        "Hộ tịch",
    }
)
_MINISTRY_ONLY_LEVELS = frozenset({"Cấp bộ", "Cấp bộ/ngành"})

# The national essential public services a commune resident meets most (Đề án 06 list).
_ESSENTIAL_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"^(thủ tục )?đăng ký khai sinh$",
        r"^(thủ tục )?đăng ký khai tử$",
        r"^(thủ tục )?đăng ký kết hôn$",
        r"xác nhận tình trạng hôn nhân$",
        r"^(thủ tục )?đăng ký thường trú$",
        r"^(thủ tục )?đăng ký tạm trú$",
        r"^(thủ tục )?khai báo tạm vắng$",
        r"^(thủ tục )?xóa đăng ký thường trú$",
        r"cấp thẻ căn cước",
        r"trợ cấp xã hội hàng tháng",
        r"mai táng phí",
        r"trợ cấp thất nghiệp$",
        r"thẻ bhyt",
        r"chứng thực bản sao từ bản chính",
        r"chứng thực chữ ký",
        r"đăng ký xe",
        r"liên thông.*khai sinh",
        r"liên thông.*khai tử",
    )
)


_PERSON_USERS = re.compile(r"công dân|người|hộ gia đình|cá nhân", re.IGNORECASE)
_BUSINESS_NAME = re.compile(r"doanh nghiệp|hợp tác xã|tổ chức kinh tế", re.IGNORECASE)


def for_citizens(row: dict[str, Any]) -> bool:
    """A procedure a person asks about: its target users name a person (not only enterprises,
    organisations or civil servants), and its name is not a business's."""
    users = row.get("target_users")
    if users and not _PERSON_USERS.search(str(users)):
        return False
    return not _BUSINESS_NAME.search(row.get("name") or "")


def in_commune_scope(row: dict[str, Any]) -> bool:
    """Whether a portal procedure belongs in the commune desk's catalogue.

    Citizen-facing only (`for_citizens`): anything else is for another desk, whatever its level.
    """
    if not for_citizens(row):
        return False
    field = row.get("field") or ""
    level = row.get("level") or ""
    agency = (row.get("agency") or "").lower()
    name = row.get("name") or ""
    if field in NON_CITIZEN_FIELDS:
        return False
    if "Cấp xã" in level or "cấp xã" in agency:
        return True
    return field in CITIZEN_ASKED_FIELDS and level not in _MINISTRY_ONLY_LEVELS and "nước ngoài" not in name


_LEAD_MARK = re.compile(r"^\s*(?:[-+*•]+|[a-zđ]\)|\d+[.)]|[ivx]+\.)\s*", re.IGNORECASE)


def _clean_documents(raw: Iterable[dict[str, Any]] | None) -> list[Document]:
    docs: list[Document] = []
    seen: set[str] = set()
    for item in raw or []:
        name = _LEAD_MARK.sub("", str(item.get("name") or "")).strip(" ,;.")
        if len(name) < 5 or name.lower() in seen:
            continue
        seen.add(name.lower())
        quantity = item.get("quantity")
        if quantity is None and ("original_count" in item or "copy_count" in item):
            parts = []
            if str(item.get("original_count") or "0") not in ("0", ""):
                parts.append(f"{item['original_count']} bản chính")
            if str(item.get("copy_count") or "0") not in ("0", ""):
                parts.append(f"{item['copy_count']} bản sao")
            quantity = ", ".join(parts) or None
        docs.append(Document(name=clip(name, 300), quantity=quantity))
        if len(docs) == 12:
            break
    return docs


def _direct_method(row: dict[str, Any]) -> dict[str, Any]:
    methods = row.get("methods") or []
    for m in methods:
        if m.get("channel") == "Trực tiếp":
            return dict(m)
    return dict(methods[0]) if methods else {}


def _processing_time(row: dict[str, Any]) -> str | None:
    direct = _direct_method(row).get("processing_time")
    value = direct or row.get("processing_time")
    return clip(str(value), 200) if value else None


_FEE_CITATION = re.compile(r"\((?:theo|quy định|căn cứ)[^)]*\)", re.IGNORECASE)


def _fee(row: dict[str, Any]) -> str | None:
    """The fee paid at the desk: the direct channel's part of the record's text.

    A note naming another amount than its head ("135 VNĐ(Lệ phí ...: 135.000 đồng/lần.)")
    contradicts it; both are kept, and the answer then says the rate is set by the rules.
    """
    value = _direct_method(row).get("fee") or row.get("fee")
    if not value:
        return None
    value = str(value)
    direct = re.search(r"Trực tiếp\s*:\s*(.*?)(?=;\s*(?:Trực tuyến|Dịch vụ bưu chính)\s*:|$)", value, re.DOTALL)
    if direct:
        value = direct.group(1)
    value = _FEE_CITATION.sub("", value)
    head, _, note = value.partition("(")
    if not money_amounts(note) - money_amounts(head):
        value = head
    value = re.sub(r"^(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)\s*:\s*", "", value.strip())
    return clip(value, 200) or None


def _steps(row: dict[str, Any]) -> list[str]:
    out = []
    for step in row.get("steps") or []:
        for line in str(step).split("\n"):
            line = _LEAD_MARK.sub("", line).strip()
            if len(line) >= 10:
                out.append(clip(line, 300))
    return out[:6]


def _legal_basis(row: dict[str, Any]) -> list[str]:
    out = []
    for item in row.get("legal_basis") or []:
        if isinstance(item, dict):
            text = " ".join(str(item.get(k) or "") for k in ("number", "name")).strip()
        else:
            text = str(item)
        if text:
            out.append(clip(text, 200))
    return out[:5]


_LEADING_VERBS = ("thủ tục", "đăng ký", "cấp", "giải quyết", "thực hiện", "đề nghị")


def derived_aliases(name: str) -> list[str]:
    """Plain variants of the official name: short form, without tone marks, core phrase."""
    short = short_name(name)
    out = [short, fold(short)]
    core = short
    for verb in _LEADING_VERBS:
        if core.startswith(verb + " ") and len(core.split()) - len(verb.split()) >= 2:
            core = core[len(verb) + 1 :]
    core = re.split(r"[,;(]", core)[0].strip()
    out.append(core if core != short else f"làm thủ tục {short}")
    out += [f"hỏi về {short}", f"thủ tục {short}"]
    uniq: list[str] = []
    for alias in (a.strip() for a in out):
        if alias and alias.lower() not in {u.lower() for u in uniq}:
            uniq.append(alias)
    return uniq[:3]


def own_aliases(name: str, aliases: list[str]) -> list[str]:
    """The aliases somebody wrote: those that are not plain variants of the official name."""
    derived = {fold(a.lower()) for a in derived_aliases(name)}
    return [a for a in aliases if fold(a.lower()) not in derived]


def is_essential(name: str) -> bool:
    lowered = name.lower()
    return any(p.search(lowered) for p in _ESSENTIAL_PATTERNS)


_PROVINCE_SUFFIX = re.compile(
    r"\s*(?:-\s*)?(?:(?:tỉnh|thành phố)\s+[A-ZĐÀ-Ỹ][\wÀ-ỹ ]*|các tỉnh(?:, thành phố)?|TP\.?|thành phố)$", re.IGNORECASE
)
_SCHOOL = re.compile(r"cơ sở giáo dục|(?<!môi )(?<!thị )\btrường\b")  # not "môi trường", "thị trường"


def office_phrase(level: str, agency: str) -> str:
    """Where to go, from the record's agency, in today's terms (two tiers since 1 July 2025).

    District bodies are gone: their desk work went to the commune, so a record that still
    names one sends the citizen to the commune's one-stop desk.
    """
    a = agency.lower()
    commune = "xã" in a or "cấp xã" in level.lower()
    if "công an" in a:
        both = "xã" in a and "tỉnh" in a
        return "Công an xã hoặc Công an tỉnh" if both else ("Công an xã" if "xã" in a else "Công an tỉnh")
    if "bảo hiểm xã hội" in a or "bhxh" in a:
        return "cơ quan bảo hiểm xã hội"
    if "quân sự" in a:
        return "Ban chỉ huy quân sự xã"
    if "việc làm" in a:
        return "Trung tâm dịch vụ việc làm của tỉnh"
    if "đất đai" in a and ("văn phòng" in a or "chi nhánh" in a):
        return "Bộ phận một cửa của xã hoặc Văn phòng đăng ký đất đai" if commune else "Văn phòng đăng ký đất đai"
    if commune or "huyện" in a or "phòng kinh tế" in a:
        return "Bộ phận một cửa của xã"
    if _SCHOOL.search(a):
        return "nhà trường"
    department = re.search(r"\bSở [A-ZĐÀ-Ỹ][^,;.]*", agency)
    if department:
        name = _PROVINCE_SUFFIX.sub("", department.group(0).split(" - ")[0]).strip()
        name = re.sub(r"\bVụ\b", "vụ", name)  # "Sở Nội Vụ" as the portal sometimes writes it
        if len(name.split()) <= 8:
            return f"{name} của tỉnh"
    return "Bộ phận một cửa của tỉnh"


_SIDE_NOTE = re.compile(r"^(trường hợp|ví dụ|đối với|lưu ý|văn bản ủy quyền|giấy tờ, tài liệu|nếu)", re.IGNORECASE)
_DOC_CUT = re.compile(r"[;:(]| theo | kèm theo| hoặc bản| tại phụ lục", re.IGNORECASE)
_VAGUE_DOC = re.compile(r"\b(sau|khác|liên quan|nêu trên|nếu có|đối chiếu)$", re.IGNORECASE)
# A paper is named by what it is; a phrase that starts otherwise is a fragment of a sentence.
_DOC_HEAD = re.compile(
    r"^(giấy|tờ khai|đơn|sổ|quyết định|hồ sơ|văn bản|phiếu|thẻ|hợp đồng|biên bản|sơ yếu|căn cước|"
    r"chứng minh|phương án|dự án|danh sách|báo cáo|hóa đơn|ảnh|bản đồ|bản vẽ|bản khai|bản cam kết|"
    r"trích lục|chứng từ|bằng|học bạ|thư|tờ trình|kế hoạch|di chúc|hộ chiếu|mảnh trích đo)\b",
    re.IGNORECASE,
)
_FORM_NUMBER = re.compile(r"\s*(?:\(?mẫu\s+(?:số\s+)?[\w/-]*\d[\w/-]*\)?)", re.IGNORECASE)
MAX_DOCUMENT_WORDS = 7


def document_phrases(docs: list[Document], limit: int = 4) -> list[str]:
    """The main papers in a few plain words each; a name too long to say plainly is left out.

    Conditional notes ("trường hợp ...") are for the desk, not the answer; form numbers are
    never read out; a name is never cut in the middle of a word.
    """
    names: list[str] = []
    for doc in docs:
        if _SIDE_NOTE.match(doc.name):
            continue
        first = _DOC_CUT.split(_FORM_NUMBER.sub("", doc.name))[0].strip(" ,.-")
        first = re.sub(r"^(bản sao|bản chính|bản chụp|01 bản|02 bản)\s+(chụp\s+)?", "", first, flags=re.IGNORECASE)
        phrase = speakable(first).strip(" ,.")
        if len(phrase.split()) > MAX_DOCUMENT_WORDS and " hoặc " in phrase:  # the main paper, not every substitute
            phrase = phrase.split(" hoặc ")[0]
        plain_words = re.findall(r"[^\W\d_]{2,}", first)
        too_long = len(phrase.split()) > MAX_DOCUMENT_WORDS
        vague = not _DOC_HEAD.match(phrase) or _VAGUE_DOC.search(phrase)
        if len(plain_words) < 2 or too_long or vague or spoken_problems(phrase + "."):
            continue
        phrase = phrase[0].lower() + phrase[1:] if not phrase[:2].isupper() else phrase
        if phrase.lower() not in (n.lower() for n in names):
            names.append(phrase)
        if len(names) == limit:
            break
    return names


def _spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " và " + items[-1]


_DURATION = re.compile(r"(\d+(?:[.,]\d+)?)\s*(ngày làm việc|ngày|giờ làm việc|giờ|tháng|tuần)", re.IGNORECASE)


def time_sentence(processing_time: str | None) -> str:
    """How long, as one spoken sentence; an unclear record becomes an appointment, not a guess."""
    text = (processing_time or "").strip()
    if re.fullmatch(r"(trong ngày|ngay trong ngày)\.?", text, re.IGNORECASE):
        return "Có kết quả trong ngày."
    found = _DURATION.search(text)
    if found and "," not in found.group(1) and "." not in found.group(1):
        return f"Có kết quả trong {number_words(int(found.group(1)))} {found.group(2).lower()}."
    return "Cán bộ sẽ hẹn ngày trả kết quả."


MIN_PLAUSIBLE_FEE = 1000  # đồng; "135 VNĐ" in a record is a cut "135.000"


def fee_sentence(fee: str | None) -> str:
    """How much: the recorded amount in words, free, or the province's rate when not recorded."""
    amounts = sorted(money_amounts(fee or "") - {0})
    if len(amounts) > 1 or any(a < MIN_PLAUSIBLE_FEE for a in amounts):  # the record contradicts itself
        return "Lệ phí theo quy định, cán bộ sẽ báo mức cụ thể."
    if amounts:
        per = " một trang" if "trang" in (fee or "").lower() else (" một bản" if "/bản" in (fee or "") else "")
        return f"Lệ phí {number_words(amounts[0])} đồng{per}."
    if fee and re.search(r"không|miễn|0 đồng|^0", fee, re.IGNORECASE):
        return "Không mất lệ phí."
    return "Lệ phí theo quy định của tỉnh."


NO_PAPERS = "Cán bộ sẽ đưa danh sách giấy tờ cần mang."  # never invent papers the record does not list


def compose_answer(
    proc_name: str, level: str, agency: str, docs: list[Document], processing_time: str | None, fee: str | None
) -> str:
    """A short spoken answer built from the facts: where, what to bring, how long, how much.

    At most `MAX_ANSWER_WORDS` words: papers are dropped before the facts, never cut.
    """
    office = office_phrase(level, agency)
    short = speakable(short_name(proc_name))
    if len(short.split()) > 12:  # the head of a long name: "..., trừ trường hợp ..." is for the desk
        short = re.split(r"[,;]| đối với | trong trường hợp | theo ", short)[0].strip()
    plain = f"Bà con đến {office}."
    named = len(short.split()) <= 12 and not spoken_problems(short + ".")
    where = f"Để {short}, bà con đến {office}." if named else plain
    tail = [time_sentence(processing_time), fee_sentence(fee)]
    papers = document_phrases(docs)
    while True:
        bring = f"Mang theo {_spoken_list(papers)}." if papers else NO_PAPERS
        answer = " ".join([where, bring, *tail])
        if len(answer.split()) <= MAX_ANSWER_WORDS:
            return answer
        if len(papers) > 2:
            papers = papers[:-1]
        elif where != plain:
            where = plain
        else:
            return " ".join([where, NO_PAPERS, *tail])


def prompt_id_for(code: str) -> str:
    return "p-" + code.replace(".", "-")


def _nfc(value: Any) -> Any:
    """Precomposed tone marks everywhere: the portal mixes in decomposed text (17 fields alone)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: _nfc(v) for k, v in value.items()}
    return value


def convert_row(row: dict[str, Any]) -> Procedure:
    """One portal row (national or catalogue shape) -> a Procedure."""
    row = _nfc(row)
    code = str(row["code"]).strip()
    name = re.sub(r"\s+", " ", str(row["name"])).strip()
    level = row.get("level") or ("Cấp xã" if "cấp xã" in str(row.get("agency") or "").lower() else "Chưa rõ cấp")
    default_agency = "Ủy ban nhân dân cấp xã" if "Cấp xã" in level else "Cơ quan có thẩm quyền theo quy định"
    agency = clip(str(row.get("agency") or default_agency), 300)
    docs = _clean_documents(row.get("documents"))
    processing_time = _processing_time(row)
    fee = _fee(row)
    return Procedure(
        code=code,
        name=name,
        field=row.get("field") or "Khác",
        level=level,
        agency=agency,
        processing_time=processing_time,
        fee=fee,
        documents=docs,
        steps=_steps(row),
        aliases=derived_aliases(name),
        answer_vi=compose_answer(name, level, agency, docs, processing_time, fee),
        essential=is_essential(name),
        prompt_id=prompt_id_for(code),
        legal_basis=_legal_basis(row),
        source_url=row.get("source_url"),
    )


_FIRST_BODY = re.compile(r"^[^;,.(]+")


def referral_office(level: str, agency: str) -> str:
    """Where a procedure done elsewhere is done. A central body's own procedures are not at
    the province's desk: the record's first named body is said instead, when it is short."""
    office = office_phrase(level, agency)
    if office != "Bộ phận một cửa của tỉnh" or "tỉnh" in level.lower():
        return office
    first = _FIRST_BODY.match(agency.strip())
    body = first.group(0).strip() if first else ""
    return body if 2 <= len(body.split()) <= 10 else office


def import_referrals(sources: list[Path], commune_codes: set[str]) -> list[Referral]:
    """Citizen-facing procedures the commune desk does not do, each with the office that does.

    The first source that has a code wins, as for the corpus. Names that fold to the same
    text are kept once; a record whose office would be the commune's own desk is left out,
    since sending the citizen back to the desk helps nobody.
    """
    out: dict[str, Referral] = {}
    seen_codes: set[str] = set(commune_codes)
    for source in sources:
        for raw in read_jsonl(source):
            code = str(raw.get("code") or "")
            name = _nfc(str(raw.get("name") or "")).strip()
            if not CODE_PATTERN.match(code) or code in seen_codes or not name:
                continue
            seen_codes.add(code)
            row = _nfc(raw)
            if in_commune_scope(raw) or not for_citizens(row):
                continue
            office = referral_office(str(row.get("level") or ""), str(row.get("agency") or ""))
            if "của xã" in office:
                continue
            short = clip(short_name(name), 120).rstrip("…")
            short = short[:1].upper() + short[1:]
            key = fold(short.lower())
            if key not in out:
                out[key] = Referral(code=code, name=short, office=office, field=str(row.get("field") or ""))
    return sorted(out.values(), key=lambda r: r.code)


def write_referrals(referrals: Iterable[Referral], path: Path) -> None:
    lines = [r.model_dump_json() for r in referrals]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def import_procedures(
    sources: list[Path],
    existing: dict[str, Procedure] | None = None,
    scope: str = "all",
) -> list[Procedure]:
    """Convert portal rows; the first source that has a code wins (put the detailed one first).

    With `existing`, curated text (aliases, answer, essential flag, prompt id) is kept for
    codes already in the corpus, and the portal refreshes the facts.
    """
    existing = existing or {}
    out: dict[str, Procedure] = {}
    skipped = 0
    for source in sources:
        for row in read_jsonl(source):
            code = str(row.get("code") or "")
            if not CODE_PATTERN.match(code) or code in out or not row.get("name"):
                skipped += 1
                continue
            if scope == "commune" and not in_commune_scope(row):
                continue
            proc = convert_row(row)
            if code in existing:
                cur = existing[code]
                proc = proc.model_copy(
                    update={
                        "aliases": cur.aliases,
                        "answer_vi": cur.answer_vi,
                        "essential": cur.essential,
                        "prompt_id": cur.prompt_id,
                    }
                )
            out[code] = proc
    for code, cur in existing.items():
        out.setdefault(code, cur)  # curated procedures the portal export lacks stay in
    if skipped:
        log.info("skipped %d rows without a valid code or name, or duplicated", skipped)
    return sorted(out.values(), key=lambda p: p.code)
