"""API tests through httpx (FastAPI's TestClient) against the app with the real corpus and model."""

import pytest

from service.answers.spoken import spoken_problems

pytestmark = pytest.mark.slow


def test_health_and_readiness(builtin_client):
    assert builtin_client.get("/healthz").json() == {"status": "ok"}
    ready = builtin_client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["embeddings"] is True and body["procedures"] >= 200


def test_search_answers_a_plain_question(builtin_client):
    res = builtin_client.post("/v1/search", json={"text": "cho em hỏi làm giấy khai sinh cho con cần gì ạ"})
    assert res.status_code == 200
    body = res.json()
    assert body["decision"] == "answer"
    assert body["matches"][0]["code"] == "1.001193"
    assert body["matches"][0]["field"] == "Hộ tịch"
    assert "giấy chứng sinh" in body["answer_text"]
    assert body["normalized_query"] == "làm giấy khai sinh cho con cần gì"
    assert 0.0 <= body["confidence"] <= 1.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nhap ho khau cho vo ve nha chong", "1.004222"),
        ("dang ky tam tru het bao nhieu tien vay", "1.004194"),
        ("mất thẻ căn cước làm lại ở đâu", "1.014064"),
        ("công chứng giấy tờ ở xã được không", "2.000815"),
    ],
)
def test_search_tolerates_missing_tones_and_chat_style(builtin_client, text, code):
    body = builtin_client.post("/v1/search", json={"text": text, "limit": 3}).json()
    assert body["matches"][0]["code"] == code


def test_out_of_scope_is_said_politely(builtin_client):
    body = builtin_client.post("/v1/search", json={"text": "hôm nay giá vàng bao nhiêu vậy ad"}).json()
    assert body["decision"] == "out_of_scope"
    assert body["answer_text"].startswith("Xin lỗi")


def test_vague_question_asks_back_with_choices(builtin_client):
    # "vehicle papers": registering, re-issuing and changing the owner are all vehicle papers
    body = builtin_client.post("/v1/search", json={"text": "làm giấy tờ xe"}).json()
    assert body["decision"] == "clarify", body
    assert 2 <= len(body["matches"]) <= 3
    assert all("đăng ký xe" in m["name"].lower() for m in body["matches"])
    assert body["answer_text"].startswith("Bà con muốn hỏi thủ tục nào? Một là ")
    assert " Hai là " in body["answer_text"] and spoken_problems(body["answer_text"], max_words=200) == []


def test_limit_is_respected(builtin_client):
    body = builtin_client.post("/v1/search", json={"text": "đăng ký kết hôn", "limit": 2}).json()
    assert len(body["matches"]) <= 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": "khai sinh", "limit": 0}, "limit"),
        ({"text": "khai sinh", "limit": 100}, "limit"),
        ({"text": "khai sinh", "language": "../etc"}, "language"),
        ({"text": "khai sinh", "extra": 1}, "extra"),
    ],
)
def test_invalid_search_input_is_422_with_field(builtin_client, payload, field):
    res = builtin_client.post("/v1/search", json=payload)
    assert res.status_code == 422
    body = res.json()
    assert body["error"] == "invalid request"
    assert any(p["field"].startswith(field) for p in body["detail"])


def test_unknown_language_and_bad_json(builtin_client):
    res = builtin_client.post("/v1/search", json={"text": "khai sinh", "language": "xx"})
    assert res.status_code == 422 and "unknown language" in res.json()["error"]
    res = builtin_client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422


def test_procedure_detail_and_errors(builtin_client):
    res = builtin_client.get("/v1/procedures/1.001193")
    assert res.status_code == 200
    body = res.json()
    assert body["name"] == "Thủ tục đăng ký khai sinh" and body["documents"] and body["prompt_id"]
    assert builtin_client.get("/v1/procedures/9.999999").status_code == 404
    bad = builtin_client.get("/v1/procedures/..%2F..%2Fetc")
    assert bad.status_code in (404, 422)
    assert "error" in bad.json()


def test_procedure_listing_filters(builtin_client):
    essential = builtin_client.get("/v1/procedures", params={"essential": "true", "limit": 1000}).json()
    assert essential and all(p["essential"] for p in essential)
    civil = builtin_client.get("/v1/procedures", params={"field": "Hộ tịch", "limit": 1000}).json()
    assert civil and all(p["field"] == "Hộ tịch" for p in civil)
    assert builtin_client.get("/v1/procedures", params={"limit": 0}).status_code == 422


def test_openapi_docs_are_served_from_local_assets_and_every_reference_resolves(builtin_client):
    for page in ("/docs", "/redoc"):
        html = builtin_client.get(page).text
        assert "/docs-assets/" in html and "cdn." not in html and "fonts.googleapis" not in html, page
    assert builtin_client.get("/docs-assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert builtin_client.get("/docs-assets/redoc.standalone.js").status_code == 200
    assert builtin_client.get("/docs-assets/secrets.js").status_code == 404
    spec = builtin_client.get("/openapi.json").json()
    assert "/v1/search" in spec["paths"]

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(spec):  # "#/components/schemas/X" must exist; "#/$defs/..." never does in OpenAPI
        target: object = spec
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, f"unresolved {ref}"
            target = target[part]


def test_questions_are_logged_with_personal_numbers_masked(builtin_client):
    text = "làm giấy khai sinh cho con, số điện thoại em 0912345678"
    assert builtin_client.post("/v1/search", json={"text": text, "channel": "kiosk"}).status_code == 200
    row = builtin_client.app.state.runtime.query_log.rows()[-1]
    assert row["text"] == "làm giấy khai sinh cho con, số điện thoại em [số]"
    assert (row["channel"], row["input"], row["decision"]) == ("kiosk", "text", "answer")
    assert row["top_codes"].split(",")[0] == "1.001193" and row["latency_ms"] > 0


def test_metrics_count_requests_by_route_template_and_decisions(builtin_client):
    builtin_client.post("/v1/search", json={"text": "đăng ký kết hôn", "channel": "web"})
    builtin_client.get("/v1/procedures/9.999999")
    builtin_client.get("/no/such/page")
    text = builtin_client.get("/metrics").text
    assert 'tthc_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'tthc_http_requests_total{method="GET",route="/v1/procedures/{code}",status="404"}' in text
    assert 'route="unmatched"' in text and "9.999999" not in text  # no raw paths as labels
    assert 'tthc_decisions_total{channel="web",decision="answer"}' in text
    assert "tthc_speech_queue_depth 0.0" in text and "tthc_active_calls 0.0" in text
