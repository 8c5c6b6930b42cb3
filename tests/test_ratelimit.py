"""Per-client rate limit on the endpoints that cost CPU."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.ops.ratelimit import TokenBuckets


def test_bucket_refills_at_the_configured_rate():
    buckets = TokenBuckets(per_minute=60, burst=2)
    assert buckets.take("a", now=0.0) == 0 and buckets.take("a", now=0.0) == 0
    assert buckets.take("a", now=0.0) == 1.0  # empty: one token a second
    assert buckets.take("a", now=0.5) == 0.5
    assert buckets.take("a", now=1.0) == 0  # refilled
    assert buckets.take("b", now=1.0) == 0  # every client has its own bucket


def test_429_with_retry_after_only_on_costly_endpoints(small_corpus_path, tmp_path):
    settings = Settings(
        corpus_path=small_corpus_path,
        data_dir=tmp_path,
        use_embeddings=False,
        asr_engine="none",
        rate_limit_per_minute=6,
        rate_limit_burst=3,
        trusted_proxies=["testclient"],
    )
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        ask = {"text": "làm giấy khai sinh"}
        assert [client.post("/v1/search", json=ask).status_code for _ in range(3)] == [200, 200, 200]
        limited = client.post("/v1/search", json=ask)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "10"
        assert "too many requests" in limited.json()["error"]
        assert client.get("/healthz").status_code == 200  # never limited
        assert client.get("/v1/procedures/1.001193").status_code == 200  # cheap reads are not limited
        # behind the trusted proxy, each citizen's address has its own bucket
        other = client.post("/v1/search", json=ask, headers={"X-Forwarded-For": "203.0.113.7"})
        assert other.status_code == 200
        assert 'status="429"' in client.get("/metrics").text


def test_forwarded_address_is_believed_only_from_a_trusted_proxy():
    from starlette.requests import Request

    from service.ops.ratelimit import client_key

    def request(peer: str) -> Request:
        headers = [(b"x-forwarded-for", b"198.51.100.1, 203.0.113.7")]
        return Request({"type": "http", "client": (peer, 1234), "headers": headers})

    assert client_key(request("10.0.0.2"), trusted_proxies=["10.0.0.2"]) == "203.0.113.7"
    assert client_key(request("192.0.2.9"), trusted_proxies=["10.0.0.2"]) == "192.0.2.9"  # spoofing ignored
