"""Procedures done elsewhere: the importer's list, the rule that refers, and the reply that says where."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from service.corpus import load_corpus
from service.matching.referrals import REFER_MIN_LEAD, Referral, ReferralIndex, load_referrals, word_pairs
from service.matching.textnorm import fold
from service.offline.importer import import_referrals
from tests.conftest import BUILTIN_CORPUS, write_jsonl

SHIPPED = BUILTIN_CORPUS.with_name("referrals.jsonl")


def _row(code: str, name: str, agency: str, level: str = "Cấp tỉnh", field: str = "Khác", **extra: object) -> dict:
    return {"code": code, "name": name, "agency": agency, "level": level, "field": field, **extra}


def test_importer_lists_citizen_procedures_done_elsewhere_with_their_office(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "national.jsonl",
        [
            _row("1.000001", "Cấp hộ chiếu phổ thông ở trong nước", "Phòng Quản lý xuất nhập cảnh Công an tỉnh"),
            _row("1.000002", "Đăng ký khai sinh", "Ủy ban nhân dân cấp xã", level="Cấp xã", field="Hộ tịch"),
            _row("1.000003", "Cấp giấy phép khai thác nước mặt", "Sở Nông nghiệp và Môi trường"),
            _row("1.000004", "Thành lập doanh nghiệp tư nhân", "Sở Tài chính"),  # a business, not a citizen
            _row("1.000005", "Cấp giấy phép xây dựng", "Sở Xây dựng", target_users="Tổ chức"),
            _row("1.000006", "CẤP HỘ CHIẾU PHỔ THÔNG Ở TRONG NƯỚC", "Công an tỉnh"),  # the same name again
            _row("1.000007", "Cấp giấy phép kinh doanh karaoke", "Phòng Văn hóa huyện"),  # to the commune desk now
            _row("1.000008", "Đăng ký thường trú", "Công an xã", level="Cấp xã"),  # in the commune catalogue
        ],
    )
    referrals = import_referrals([source], commune_codes={"1.000008"})
    by_code = {r.code: r for r in referrals}
    assert set(by_code) == {"1.000001", "1.000003"}
    assert by_code["1.000001"].office == "Công an tỉnh"
    assert by_code["1.000003"].office == "Sở Nông nghiệp và Môi trường của tỉnh"
    assert by_code["1.000001"].name == "Cấp hộ chiếu phổ thông ở trong nước"


def test_a_referral_needs_most_of_the_question_and_a_clear_lead_over_the_commune() -> None:
    index = ReferralIndex([Referral(code="1.000001", name="Cấp hộ chiếu phổ thông", office="Công an tỉnh")])
    pairs = word_pairs(fold("cap ho chieu"))  # both pairs are in the name
    referral, share = index.best(pairs)
    assert referral is not None and share == 1.0
    assert index.refer(pairs, commune_share=0.0) is referral
    assert index.refer(pairs, commune_share=1.0 - REFER_MIN_LEAD / 2) is None  # the commune explains it as well
    assert index.refer(word_pairs("ho chieu gia bao nhieu tien o ha noi"), commune_share=0.0) is None  # one pair of six
    assert index.best(frozenset()) == (None, 0.0)


def test_shipped_referrals_are_valid_and_apart_from_the_commune_catalogue() -> None:
    referrals = load_referrals(SHIPPED)
    assert len(referrals) > 2000
    commune = {p.code for p in load_corpus(BUILTIN_CORPUS).procedures}
    assert not commune & {r.code for r in referrals}
    assert all("của xã" not in r.office for r in referrals)  # never back to the commune desk
    text = SHIPPED.read_text(encoding="utf-8")
    assert unicodedata.normalize("NFC", text) == text
    assert len({fold(r.name.lower()) for r in referrals}) == len(referrals)
    assert any(r.office == "Công an tỉnh" and "hộ chiếu" in r.name for r in referrals)


@pytest.mark.slow
def test_a_question_about_a_procedure_done_elsewhere_is_told_where_to_go(builtin_client) -> None:
    passport = builtin_client.post("/v1/search", json={"text": "tôi muốn làm hộ chiếu phổ thông"}).json()
    assert passport["decision"] == "out_of_scope", json.dumps(passport, ensure_ascii=False)[:500]
    assert passport["referral"]["office"] == "Công an tỉnh" and "hộ chiếu" in passport["referral"]["name"]
    assert "Công an tỉnh" in passport["answer_text"] and "không làm ở xã" in passport["answer_text"]
    birth = builtin_client.post("/v1/search", json={"text": "đăng ký khai sinh cho con"}).json()
    assert birth["decision"] == "answer" and birth["referral"] is None  # a commune matter stays one
    weather = builtin_client.post("/v1/search", json={"text": "ngày mai trời có mưa không"}).json()
    assert weather["decision"] == "out_of_scope" and weather["referral"] is None
