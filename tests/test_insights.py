"""/admin/insights: what officials see, from a query log seeded with known questions."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.ops.insights import cluster_questions
from service.ops.querylog import QueryEntry

KEY = "officials-key"


def _entry(text: str, decision: str, code: str, days_ago: float, channel: str = "kiosk", language: str = "vi"):
    return QueryEntry(
        channel=channel,
        language=language,
        input="speech",
        text=text,
        decision=decision,
        top_codes=[code] if code else [],
        confidence=0.5,
        latency_ms=900.0,
        created_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


@pytest.fixture
def client(small_corpus_path, tmp_path):
    settings = Settings(
        corpus_path=small_corpus_path,
        data_dir=tmp_path,
        prompts_dir=tmp_path / "prompts",
        use_embeddings=False,
        asr_engine="none",
        admin_api_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as c:
        log = c.app.state.runtime.query_log
        for days in (1, 2, 9):
            log.record(_entry("làm giấy khai sinh", "answer", "1.001193", days))
        log.record(_entry("khai sinh cho bé", "answer", "1.001193", 1, channel="ivr", language="hmn"))
        log.record(_entry("đăng ký kết hôn", "answer", "1.000894", 3, channel="web"))
        log.record(_entry("đổi giấy phép lái xe", "out_of_scope", "", 1))
        log.record(_entry("đổi giấy phép lái xe ô tô", "out_of_scope", "", 2))
        log.record(_entry("xin đổi giấy phép lái xe máy", "clarify", "2.000815", 4))
        log.record(_entry("thời tiết hôm nay thế nào", "out_of_scope", "", 5))
        log.record(_entry("câu hỏi rất cũ", "out_of_scope", "", 200))  # outside the 12 weeks
        yield c


def test_insights_need_the_admin_key_and_browsers_get_a_basic_challenge(client):
    res = client.get("/admin/insights")
    assert res.status_code == 401 and res.headers["www-authenticate"].startswith("Basic")
    assert client.get("/admin/insights", auth=("canbo", "wrong")).status_code == 403
    assert client.get("/admin/insights", auth=("canbo", KEY)).status_code == 200
    assert client.get("/admin/insights", headers={"X-API-Key": KEY}).status_code == 200


def test_insights_report_counts_groups_languages_and_missing_recordings(client):
    report = client.get("/admin/insights", params={"format": "json"}, headers={"X-API-Key": KEY}).json()
    assert report["total"] == 9  # the 200-day-old question is outside the window
    per_code: dict[str, int] = {}
    for row in report["top"]:
        per_code[row["code"]] = per_code.get(row["code"], 0) + row["count"]
    assert per_code == {"1.001193": 4, "1.000894": 1}
    sizes = [c["size"] for c in report["unanswered"]]
    assert sizes == [3, 1]  # the three driving-licence questions form one group
    assert report["unanswered"][0]["nearest_code"] == "2.000815"
    assert {"language": "hmn", "channel": "ivr", "count": 1} in report["languages"]
    missing = [(r["language"], r["code"]) for r in report["recordings"]]
    assert ("hmn", "1.001193") in missing and ("vi", "1.001193") in missing

    page = client.get("/admin/insights", headers={"X-API-Key": KEY})
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "đổi giấy phép lái xe" in page.text and "http://cdn" not in page.text

    rows = list(csv.reader(io.StringIO(client.get("/admin/insights.csv?report=unanswered", auth=("x", KEY)).text)))
    assert rows[0] == ["size", "nearest_code", "nearest_name", "decisions", "examples"] and rows[1][0] == "3"
    assert client.get("/admin/insights.csv?report=nope", auth=("x", KEY)).status_code == 422


def test_grouping_keeps_unrelated_questions_apart():
    rows = [
        {"text": t, "decision": "out_of_scope", "top_codes": ""}
        for t in ["cấp lại thẻ bảo hiểm y tế", "cap lai the bao hiem y te bi mat", "xin trợ cấp người cao tuổi"]
    ]
    assert [len(c.texts) for c in cluster_questions(rows)] == [2, 1]
