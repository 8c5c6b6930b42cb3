from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings


def test_search_is_503_until_models_are_loaded(small_corpus_path, tmp_path):
    settings = Settings(corpus_path=small_corpus_path, models_dir=tmp_path / "no-models", data_dir=tmp_path)
    app = create_app(settings, load_models_in_background=False)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "models prepare" in ready.json()["error"]
        res = client.post("/v1/search", json={"text": "khai sinh"})
        assert res.status_code == 503 and "error" in res.json()
        # the catalogue still works without models
        assert client.get("/v1/procedures/1.001193").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_lexical_only_mode_serves_without_models(small_corpus_path, tmp_path):
    settings = Settings(corpus_path=small_corpus_path, use_embeddings=False, data_dir=tmp_path)
    with TestClient(create_app(settings, load_models_in_background=False)) as client:
        body = client.post("/v1/search", json={"text": "lam giay khai sinh cho con"}).json()
        assert body["matches"][0]["code"] == "1.001193"
        assert client.get("/readyz").json()["embeddings"] is False


def test_search_waits_with_503_while_models_load_then_answers(small_corpus_path, tmp_path, monkeypatch):
    """The window between start-up and ready: 503 with a reason, then real answers, no restart."""
    import threading
    import time

    import service.lookup

    release = threading.Event()
    real_build = service.lookup.build_matcher

    def slow_build(*args, **kwargs):  # holds the real build until the test has looked
        release.wait(30)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(service.lookup, "build_matcher", slow_build)
    settings = Settings(corpus_path=small_corpus_path, use_embeddings=False, asr_engine="none", data_dir=tmp_path)
    with TestClient(create_app(settings, load_models_in_background=True)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "loading" in ready.json()["error"]
        waiting = client.post("/v1/search", json={"text": "khai sinh"})
        assert waiting.status_code == 503 and "still loading" in waiting.json()["error"]
        assert client.get("/v1/procedures/1.001193").status_code == 200  # the catalogue does not wait
        release.set()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "models never became ready"
            time.sleep(0.05)
        body = client.post("/v1/search", json={"text": "lam giay khai sinh cho con"}).json()
        assert body["matches"][0]["code"] == "1.001193"
