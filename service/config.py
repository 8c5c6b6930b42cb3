"""One settings object, read from environment variables prefixed with TTHC_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TTHC_", env_file=".env", extra="ignore")

    corpus_path: Path = PROJECT_ROOT / "corpus" / "procedures.jsonl"
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "data"
    embedding_model: str = "multilingual-e5-small"
    embedding_batch_size: int = 64
    use_embeddings: bool = Field(True, description="False runs lexical-only (for very weak machines)")

    # Decision thresholds (see service/matcher.py for what each one gates).
    answer_min_confidence: float = 0.45
    clarify_min_confidence: float = 0.3
    clarify_max_candidates: int = 3

    default_language: str = "vi"
    languages: list[str] = ["vi", "hmn", "tai"]

    host: str = "127.0.0.1"
    port: int = 8000
    max_query_chars: int = 500
    max_results: int = 20


@lru_cache
def get_settings() -> Settings:
    return Settings()
