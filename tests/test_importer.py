import json
from pathlib import Path

from service.corpus import load_corpus, write_corpus
from service.names import short_name
from service.offline.importer import derived_aliases, import_procedures, in_commune_scope
from tests.conftest import write_jsonl

PORTAL_ROWS = [
    {
        "code": "1.001193",
        "name": "Thủ tục đăng ký khai sinh",
        "field": "Hộ tịch",
        "level": "Cấp xã",
        "agency": None,
        "processing_time": "Trực tiếp: 1 ngày",
        "fee": None,
        "documents": [
            {"name": "- Giấy chứng sinh", "group": "* Giấy tờ phải nộp:", "original_count": "1", "copy_count": "0"},
            {"name": ",", "quantity": "1 bản sao"},
            {"name": "- Trường hợp trẻ em bị bỏ rơi thì phải có biên bản", "original_count": "1", "copy_count": "0"},
        ],
        "steps": ["- Nộp hồ sơ tại Bộ phận một cửa.\n- Nhận kết quả."],
        "legal_basis": [{"name": "Luật Hộ tịch", "number": "60/2014/QH13"}],
        "methods": [{"channel": "Trực tiếp", "processing_time": "1 ngày", "fee": None}],
        "source_url": "https://example.invalid/1",
    },
    {
        "code": "1.000005",
        "name": "Thủ tục hải quan đối với khí xuất khẩu",
        "field": "Hải quan",
        "level": "Cấp xã",
        "agency": "Chi cục Hải quan",
        "documents": [],
        "steps": [],
        "methods": [{"channel": "Trực tuyến", "fee": "Trực tuyến: 120,000 VNĐ(Theo khoản 1 Điều 3 Thông tư 172)"}],
    },
    {
        "code": "1.004194",
        "name": "Đăng ký tạm trú",
        "field": "Đăng ký, quản lý cư trú",
        "level": "Cấp xã",
        "agency": "Công an xã",
        "methods": [
            {
                "channel": "Trực tiếp",
                "processing_time": "3 ngày làm việc",
                "fee": "10,000 Việt Nam Đồng(- Đăng ký tạm trú (cá nhân))",
            }
        ],
    },
    {"code": "bad", "name": "no code"},
]


def test_import_converts_portal_rows(tmp_path: Path):
    src = write_jsonl(tmp_path / "portal.jsonl", PORTAL_ROWS)
    procs = {p.code: p for p in import_procedures([src])}
    assert set(procs) == {"1.001193", "1.000005", "1.004194"}
    birth = procs["1.001193"]
    assert birth.agency == "Ủy ban nhân dân cấp xã"
    assert [d.name for d in birth.documents][0] == "Giấy chứng sinh"
    assert birth.documents[0].quantity == "1 bản chính"
    assert len(birth.documents) == 2  # the lone "," is dropped
    assert birth.processing_time == "1 ngày"
    assert birth.legal_basis == ["60/2014/QH13 Luật Hộ tịch"]
    assert birth.essential
    assert birth.prompt_id == "p-1-001193"
    # Answer names the place and the main paper, not the conditional note.
    assert "Bộ phận một cửa" in birth.answer_vi and "giấy chứng sinh" in birth.answer_vi
    assert "bỏ rơi" not in birth.answer_vi
    assert procs["1.004194"].fee == "10,000 Việt Nam Đồng"


def test_commune_scope_drops_customs(tmp_path: Path):
    src = write_jsonl(tmp_path / "portal.jsonl", PORTAL_ROWS)
    codes = {p.code for p in import_procedures([src], scope="commune")}
    assert codes == {"1.001193", "1.004194"}
    assert not in_commune_scope({"field": "Việc làm", "level": "Cấp bộ", "name": "x"})
    assert in_commune_scope({"field": "Việc làm", "level": "Cấp tỉnh", "name": "Hưởng trợ cấp thất nghiệp"})
    # citizen-facing only: no person among the target users, or a business in the name
    companies = {
        "field": "Việc làm",
        "level": "Cấp xã",
        "name": "Báo cáo sử dụng lao động",
        "target_users": "Doanh nghiệp",
    }
    assert not in_commune_scope(companies)
    assert in_commune_scope(dict(companies, target_users="Doanh nghiệp, Công dân Việt Nam"))
    assert not in_commune_scope(
        {"field": "Lao động", "level": "Cấp xã", "name": "Đăng ký nội quy lao động của doanh nghiệp"}
    )


def test_merge_keeps_curated_text_and_refreshes_facts(tmp_path: Path):
    src = write_jsonl(tmp_path / "portal.jsonl", PORTAL_ROWS)
    first = import_procedures([src])
    curated = [
        p.model_copy(
            update={
                "aliases": ["làm giấy khai sinh cho con", "khai sinh cho bé", "lam khai sinh"],
                "answer_vi": "Câu trả lời viết tay. Mang giấy chứng sinh.",
                "processing_time": "cũ",
            }
        )
        if p.code == "1.001193"
        else p
        for p in first
    ]
    curated_path = tmp_path / "curated.jsonl"
    write_corpus(curated, curated_path)
    merged = {p.code: p for p in import_procedures([src], existing=load_corpus(curated_path).by_code())}
    birth = merged["1.001193"]
    assert birth.aliases[0] == "làm giấy khai sinh cho con"
    assert birth.answer_vi.startswith("Câu trả lời viết tay")
    assert birth.processing_time == "1 ngày"  # facts come from the portal


def test_cli_import_round_trip(tmp_path: Path):
    from service.cli import main

    src = write_jsonl(tmp_path / "portal.jsonl", PORTAL_ROWS)
    out = tmp_path / "out.jsonl"
    assert main(["corpus", "import", str(src), "--out", str(out), "--scope", "commune"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["code"] for r in rows] == ["1.001193", "1.004194"]
    assert main(["corpus", "validate", str(out)]) == 0


def test_derived_aliases_are_three_distinct_plain_variants():
    aliases = derived_aliases("Thủ tục đăng ký khai sinh")
    assert aliases == ["đăng ký khai sinh", "dang ky khai sinh", "khai sinh"]
    assert short_name("Thủ tục đăng ký nghĩa vụ quân sự (cấp xã)") == "đăng ký nghĩa vụ quân sự"
    assert len(set(derived_aliases("Chứng thực di chúc"))) == 3
