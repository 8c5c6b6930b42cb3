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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from service.corpus import CODE_PATTERN, Document, Procedure
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


def in_commune_scope(row: dict[str, Any]) -> bool:
    """Whether a portal procedure belongs in the commune desk's catalogue.

    Citizen-facing only: a procedure whose target users name no person (only enterprises,
    organisations or civil servants) is for another desk, whatever its level.
    """
    users = row.get("target_users")
    if users and not _PERSON_USERS.search(str(users)):
        return False
    field = row.get("field") or ""
    level = row.get("level") or ""
    agency = (row.get("agency") or "").lower()
    name = row.get("name") or ""
    if _BUSINESS_NAME.search(name):
        return False
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
    value = _direct_method(row).get("fee") or row.get("fee")
    if not value:
        return None
    value = _FEE_CITATION.sub("", str(value)).split("(")[0]
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


def _where(level: str, agency: str) -> str:
    if "Cấp xã" in level or "cấp xã" in agency.lower():
        return "Bộ phận một cửa của Ủy ban nhân dân xã, phường"
    return clip(agency, 120)


_SIDE_NOTE = re.compile(r"^(trường hợp|ví dụ|đối với|lưu ý|văn bản ủy quyền|giấy tờ, tài liệu)", re.IGNORECASE)


def _document_phrase(docs: list[Document]) -> str:
    """The main papers: conditional notes ("trường hợp ...") are for the desk, not the answer."""
    main = [d for d in docs if not _SIDE_NOTE.match(d.name)] or docs
    names: list[str] = []
    for doc in main:
        first = re.split(r"[;:(]| theo mẫu| theo quy định", doc.name)[0]
        phrase = clip(first, 80).rstrip("…").lower()
        if phrase not in names:
            names.append(phrase)
        if len(names) == 3:
            break
    return "; ".join(names)


def _phrase(text: str, limit: int) -> str:
    """Clip and keep as one sentence: a spoken answer must not break mid-fact."""
    return re.sub(r"[.!?]+\s+", ", ", clip(text, limit)).rstrip(".…, ")


def compose_answer(
    proc_name: str, level: str, agency: str, docs: list[Document], processing_time: str | None, fee: str | None
) -> str:
    """A short spoken answer built from the facts: where, what to bring, how long, how much."""
    short = short_name(proc_name)
    sentences = [f"Để {_phrase(short, 150)}, bà con đến {_phrase(_where(level, agency), 150)}."]
    if docs:
        sentences.append(f"Cần mang: {_phrase(_document_phrase(docs), 300)}.")
    else:
        sentences.append("Cán bộ một cửa sẽ hướng dẫn giấy tờ cần mang.")
    if processing_time:
        sentences.append(f"Thời gian giải quyết: {_phrase(processing_time, 100)}.")
    if fee and not re.search(r"không|miễn", fee, re.IGNORECASE):
        sentences.append(f"Lệ phí: {_phrase(fee, 100)}.")
    else:
        sentences.append("Không mất lệ phí." if fee else "Lệ phí, nếu có, theo mức của tỉnh.")
    return " ".join(sentences)


def prompt_id_for(code: str) -> str:
    return "p-" + code.replace(".", "-")


def convert_row(row: dict[str, Any]) -> Procedure:
    """One portal row (national or catalogue shape) -> a Procedure."""
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
