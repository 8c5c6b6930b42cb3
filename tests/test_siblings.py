"""One procedure published by several provinces is shown once (service/matching/siblings.py)."""

from pathlib import Path

import numpy as np

from service.corpus import load_corpus
from service.matching.matcher import Matcher
from service.matching.siblings import SiblingGroups
from tests.conftest import BUILTIN_CORPUS, small_record, write_jsonl


def _twins(tmp_path: Path, **extra: object) -> Path:
    rows = [
        small_record(
            "1.000001",
            "Hỗ trợ phát triển sản xuất cộng đồng",
            ["xin hỗ trợ sản xuất", "cả bản làm chung", "nuôi bò chung"],
            field="Giảm nghèo",
        ),
        small_record(
            "1.000002",
            "Thủ tục hỗ trợ phát triển sản xuất cộng đồng.",
            ["xin hỗ trợ sản xuất", "cả bản làm chung", "nuôi bò chung"],
            field="Giảm nghèo",
            essential=True,
        ),
        small_record(
            "1.000003",
            "HỖ TRỢ PHÁT TRIỂN SẢN XUẤT CỘNG ĐỒNG",
            ["xin hỗ trợ sản xuất", "cả bản làm chung", "nuôi bò chung"],
            field="Giảm nghèo",
        ),
        small_record("1.000004", "Đăng ký khai sinh", ["làm giấy khai sinh", "con mới đẻ", "khai sinh cho bé"]),
        small_record(
            "1.000005", "Đăng ký lại khai sinh", ["làm lại giấy khai sinh", "mất giấy khai sinh", "khai sinh lại"]
        ),
    ]
    return write_jsonl(tmp_path / "procedures.jsonl", rows)


def test_same_name_in_any_case_or_punctuation_is_one_group_but_one_word_apart_is_not(tmp_path: Path):
    procs = list(load_corpus(_twins(tmp_path)).procedures)
    groups = SiblingGroups(procs)
    assert groups.codes(0) == groups.codes(2) == {"1.000001", "1.000002", "1.000003"}
    assert groups.codes(3) == {"1.000004"}  # "đăng ký lại khai sinh" is another procedure
    assert groups.groups == 1
    assert groups.representative[0] == 1  # the curated (essential) record stands for the group


def test_a_province_picks_its_own_code(tmp_path: Path):
    procs = list(load_corpus(_twins(tmp_path)).procedures)
    assert SiblingGroups(procs, preferred_codes=["1.000003"]).representative[0] == 2


def test_collapse_puts_the_best_member_score_on_the_representative():
    class P:  # the fields SiblingGroups reads
        def __init__(self, code: str, name: str) -> None:
            self.code, self.name, self.level, self.essential, self.fee, self.documents = (
                code,
                name,
                "Cấp xã",
                False,
                None,
                [],
            )

    groups = SiblingGroups([P("1", "A b"), P("2", "a B."), P("3", "c")])  # type: ignore[list-item]
    out = groups.collapse(np.array([0.2, 0.9, 0.5], dtype=np.float32))
    assert out[groups.representative[0]] == np.float32(0.9)
    assert sorted(out.tolist()) == [-1.0, np.float32(0.5), np.float32(0.9)]


def test_search_shows_a_group_once_and_the_twins_do_not_split_the_confidence(tmp_path: Path):
    m = Matcher(load_corpus(_twins(tmp_path)), None, tmp_path)
    result = m.search("xin hỗ trợ phát triển sản xuất cộng đồng", limit=3)
    codes = [x.procedure.code for x in result.matches]
    assert codes[0] == "1.000002"
    assert not {"1.000001", "1.000003"} & set(codes)
    assert result.decision.value == "answer"


def test_builtin_corpus_groups_its_published_twins():
    procs = list(load_corpus(BUILTIN_CORPUS).procedures)
    groups = SiblingGroups(procs)
    assert groups.groups >= 20
    community = [i for i, p in enumerate(procs) if "phát triển sản xuất cộng đồng" in p.name.lower()]
    assert len({int(groups.representative[i]) for i in community}) < len(community)
