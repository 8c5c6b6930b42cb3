from fastapi.testclient import TestClient

from service.api import create_app
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
