"""Answers a citizen can act on: spoken words only, short, and true to their record.

Runs over the shipped corpus and every prompt the service can play, so a new answer with a
digit, a slash, an abbreviation, an abolished district or a fee the record does not carry
fails here (and in `tthc-voice corpus validate`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.answers.facts import LINT_MAX_WORDS, fact_problems, lint_corpus
from service.answers.languages import DEFAULT_LANGUAGES, LanguageRegistry
from service.answers.prompts import PromptKind, prompt_texts
from service.answers.spoken import number_words, speakable, spoken_problems
from service.answers.tiles import load_life_events, tile_names
from service.config import Settings
from service.corpus import Document, load_corpus
from service.offline.importer import compose_answer, document_phrases, fee_sentence, office_phrase, time_sentence

CORPUS = Settings().corpus_path


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (5, "năm"),
        (10, "mười"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (24, "hai mươi bốn"),
        (105, "một trăm lẻ năm"),
        (110, "một trăm mười"),
        (2025, "hai nghìn không trăm hai mươi lăm"),
        (10000, "mười nghìn"),
        (120000, "một trăm hai mươi nghìn"),
        (1000050, "một triệu không trăm năm mươi"),
        (1500000, "một triệu năm trăm nghìn"),
    ],
)
def test_numbers_are_read_the_way_people_say_them(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Lệ phí 10,000 VNĐ/bản.", "Lệ phí mười nghìn đồng một bản."),
        ("lệ phí 2.000đ một trang.", "lệ phí hai nghìn đồng một trang."),
        ("Trong 3-5 ngày làm việc.", "Trong ba đến năm ngày làm việc."),
        (
            "Từ 01/7/2025 giảm 50% lệ phí.",
            "Từ ngày một tháng bảy năm hai nghìn không trăm hai mươi lăm giảm năm mươi phần trăm lệ phí.",
        ),
        (
            "Nộp tại UBND xã, mang CCCD và thẻ BHYT.",
            "Nộp tại Ủy ban nhân dân xã, mang căn cước công dân và thẻ bảo hiểm y tế.",
        ),
        ("Mang hộ chiếu/căn cước (bản chính).", "Mang hộ chiếu hoặc căn cước, bản chính."),
    ],
)
def test_numbers_money_dates_and_abbreviations_become_words(text: str, spoken: str) -> None:
    assert speakable(text) == spoken
    assert spoken_problems(spoken, max_words=LINT_MAX_WORDS) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Lệ phí 10.000 đồng.", "digits"),
        ("Mang hộ chiếu/căn cước.", "symbols"),
        ("Cần mang: a) tờ khai b) căn cước.", "symbols"),
        ("Mang thẻ BHYT.", "abbreviations"),
        ("Đến Ủy ban nhân dân thị trấn.", "abolished"),
        ("Bà con đến Bộ phận một cửa của xã", "does not end"),
        ("Mang giấy tờ. " * 25, "words"),
    ],
)
def test_the_linter_names_what_would_sound_wrong(text: str, problem: str) -> None:
    assert any(problem in p for p in spoken_problems(text, max_words=LINT_MAX_WORDS))


def test_every_shipped_answer_and_prompt_is_plain_speech() -> None:
    corpus = load_corpus(CORPUS)
    tiles = tile_names(load_life_events(Settings().life_events_file, corpus))
    texts = prompt_texts(corpus, LanguageRegistry(languages=DEFAULT_LANGUAGES), tiles)
    names = (PromptKind.TITLE, PromptKind.LANGUAGE_NAME)
    bad = {}
    for pid, (kind, text) in texts.items():
        problems = spoken_problems(text, max_words=LINT_MAX_WORDS, sentences=kind not in names)
        if kind in names:  # an official name keeps its own words ("... cấp huyện"); it sends nobody anywhere
            problems = [p for p in problems if not p.startswith("abolished")]
        if problems:
            bad[pid] = problems
    assert not bad, f"{len(bad)} prompts would be read badly, e.g. {list(bad.items())[:3]}"
    assert lint_corpus(CORPUS) == []


def test_every_answer_agrees_with_its_record() -> None:
    wrong = {p.code: found for p in load_corpus(CORPUS).procedures if (found := fact_problems(p))}
    assert not wrong, f"{len(wrong)} answers disagree with their record, e.g. {list(wrong.items())[:3]}"


def test_the_fact_check_catches_a_wrong_office_time_and_fee() -> None:
    proc = load_corpus(CORPUS).by_code()["1.001193"]
    police = proc.model_copy(update={"agency": "Công an cấp Xã"})
    assert any("police" in p for p in fact_problems(police))
    slow = proc.model_copy(
        update={"answer_vi": "Bà con đến Bộ phận một cửa của xã. Có kết quả trong chín ngày làm việc."}
    )
    assert any(
        "ngày làm việc" in p for p in fact_problems(slow.model_copy(update={"processing_time": "3 ngày làm việc"}))
    )
    priced = slow.model_copy(update={"answer_vi": "Bà con đến Bộ phận một cửa của xã. Lệ phí năm mươi nghìn đồng."})
    assert any("đồng" in p for p in fact_problems(priced.model_copy(update={"fee": "10,000 VNĐ"})))
    free = slow.model_copy(update={"answer_vi": "Bà con đến Bộ phận một cửa của xã. Không mất lệ phí."})
    assert any("free" in p for p in fact_problems(free.model_copy(update={"fee": "10,000 VNĐ"})))


def test_the_composer_keeps_to_the_facts_and_never_cuts_a_word() -> None:
    docs = [
        Document(name="a) Tờ khai đăng ký khai tử theo mẫu số 05/TP-HT ban hành kèm theo Thông tư"),
        Document(name="Trường hợp người đi đăng ký là người được ủy quyền thì nộp thêm văn bản ủy quyền"),
        Document(name="Bản sao giấy báo tử hoặc giấy tờ thay thế giấy báo tử"),
        Document(name="Giấy tờ tùy thân/CCCD của người đi khai"),
    ]
    answer = compose_answer(
        "Thủ tục đăng ký khai tử", "Cấp xã", "Ủy ban nhân dân cấp xã", docs, "03 ngày làm việc", "10.000 đồng/bản"
    )
    assert answer.startswith("Để đăng ký khai tử, bà con đến Bộ phận một cửa của xã.")
    assert "tờ khai đăng ký khai tử" in answer and "giấy báo tử" in answer
    assert "trường hợp" not in answer.lower()  # desk notes stay at the desk
    assert "Có kết quả trong ba ngày làm việc." in answer and "Lệ phí mười nghìn đồng một bản." in answer
    assert spoken_problems(answer) == []
    assert document_phrases([Document(name="Các giấy tờ khác có liên quan")]) == []  # says nothing, so not said
    assert time_sentence("Theo quy định của pháp luật") == "Cán bộ sẽ hẹn ngày trả kết quả."
    assert fee_sentence(None) == "Lệ phí theo quy định của tỉnh."
    assert fee_sentence("Không thu phí") == "Không mất lệ phí."


@pytest.mark.parametrize(
    ("agency", "office"),
    [
        ("Công an cấp Xã", "Công an xã"),
        ("Bảo hiểm xã hội cấp huyện, Bảo hiểm xã hội tỉnh", "cơ quan bảo hiểm xã hội"),
        ("Ủy ban Nhân dân xã, phường, thị trấn.", "Bộ phận một cửa của xã"),
        ("Phòng Kinh tế, Hạ tầng và Đô thị", "Bộ phận một cửa của xã"),  # district work went to the commune
        ("Sở Giáo dục và Đào tạo tỉnh Bắc Ninh", "Sở Giáo dục và Đào tạo của tỉnh"),
        ("Ban chỉ huy quân sự cấp Xã", "Ban chỉ huy quân sự xã"),
        ("Sở Tài nguyên và Môi trường", "Sở Tài nguyên và Môi trường của tỉnh"),  # "môi trường" is no school
        ("Trường Đại học Y Hà Nội", "nhà trường"),
        ("Cục Quản lý chất lượng và Phát triển thị trường", "Bộ phận một cửa của tỉnh"),
        ("Sở Nội Vụ TP. Hà Nội", "Sở Nội vụ của tỉnh"),
        ("Sở Tài chính các tỉnh, thành phố", "Sở Tài chính của tỉnh"),
    ],
)
def test_the_office_is_the_records_agency_in_todays_terms(agency: str, office: str) -> None:
    assert office_phrase("Cấp tỉnh", agency) == office


def test_corpus_validate_reports_answer_problems_by_line(tmp_path: Path) -> None:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:3]
    lines[1] = lines[1].replace('"answer_vi": "', '"answer_vi": "Lệ phí 10.000 đồng/bản. ', 1)
    bad = tmp_path / "procedures.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "corpus", "validate", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"{bad}:line 2: answer_vi: digits" in result.stderr
    assert "line 1" not in result.stderr and "line 3" not in result.stderr


def test_answers_report_counts_written_and_composed_answers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "corpus", "answers-report", str(CORPUS)], capture_output=True, text=True
    )
    corpus = load_corpus(CORPUS)
    written = sum(p.answer_written for p in corpus.procedures)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"({written} written by hand, {len(corpus.procedures) - written} composed)" in result.stdout
    assert "spoken-text problems: 0" in result.stdout and "disagreements with the record: 0" in result.stdout


def test_the_desk_fee_is_the_direct_channels_and_a_self_contradicting_fee_is_not_guessed() -> None:
    from service.offline.importer import convert_row

    def row(fee: str) -> dict[str, object]:
        return {
            "code": "3.000349",
            "name": "Đổi giấy phép lái xe",
            "level": "Cấp xã",
            "agency": "Công an cấp Xã",
            "fee": fee,
        }

    channels = convert_row(row("Trực tuyến: 7,000 Việt Nam Đồng(thu 7.000 đồng); Trực tiếp: 10,000 Việt Nam Đồng"))
    assert channels.fee == "10,000 Việt Nam Đồng" and "Lệ phí mười nghìn đồng." in channels.answer_vi
    cut = convert_row(row("Trực tiếp: 135 VNĐ(Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần.)"))
    assert "135.000" in (cut.fee or "")  # both amounts kept for the desk to see
    assert "Lệ phí theo quy định, cán bộ sẽ báo mức cụ thể." in cut.answer_vi
    assert fee_sentence("135 VNĐ") == "Lệ phí theo quy định, cán bộ sẽ báo mức cụ thể."  # no fee is 135 đồng
