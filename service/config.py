"""One settings object, read from environment variables prefixed with TTHC_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Decision bands and how many choices asking back offers; the Matcher's defaults are these too,
# so code that searches without a Settings object decides as the service does.
ANSWER_MIN_CONFIDENCE = 0.7
CLARIFY_MIN_CONFIDENCE = 0.5
CLARIFY_MAX_CANDIDATES = 3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TTHC_", env_file=".env", extra="ignore", populate_by_name=True)

    corpus_path: Path = PROJECT_ROOT / "corpus" / "procedures.jsonl"
    lexicon_path: Path | None = Field(
        PROJECT_ROOT / "corpus" / "lexicon.jsonl", description="everyday words -> official terms; null: none"
    )
    restore_accents: bool = Field(True, description="put tone marks back on questions typed without them")
    referrals_path: Path | None = Field(
        None, description="procedures done elsewhere, with their office; default: referrals.jsonl beside the corpus"
    )
    refer_elsewhere: bool = Field(True, description="tell where to go when a procedure done elsewhere fits better")
    preferred_codes: list[str] = Field(
        default_factory=list, description="the province's own code for a procedure published by several provinces"
    )
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "data"
    embedding_model: str = "multilingual-e5-small"
    embedding_batch_size: int = Field(16, ge=1, description="passages per batch when the corpus is encoded")
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="onnx: the int8 export made by `models prepare`; torch: sentence-transformers"
    )
    embedding_threads: int = Field(1, ge=1, le=64, description="cores one question's embedding may use")
    blas_threads: int = Field(1, ge=1, le=64, description="numpy/scipy BLAS and OpenMP pools (docs/performance.md)")
    fuzzy_threads: int = Field(2, ge=1, le=64, description="cores the fuzzy scorer splits one question over")
    use_embeddings: bool = Field(True, description="False runs lexical-only (for very weak machines)")

    # Bands on the calibrated confidence: answer, else clarify, else out of scope. Fitted on
    # folds with the fusion weights to what a decision is worth to the citizen: a wrong answer
    # costs more than asking back (docs/matching.md).
    answer_min_confidence: float = ANSWER_MIN_CONFIDENCE
    clarify_min_confidence: float = CLARIFY_MIN_CONFIDENCE
    clarify_max_candidates: int = CLARIFY_MAX_CANDIDATES

    languages: list[str] = ["vi", "hmn", "tai"]  # enabled answer languages, first is the default
    languages_file: Path | None = None  # JSON list of language records replacing the built-in registry
    prompts_dir: Path = PROJECT_ROOT / "audio_prompts"

    # Speech in. "auto": viet-asr (embedded in its wheel), or Whisper base where it cannot load;
    # "vosk" for a province that installed the official Vietnamese Vosk model.
    asr_engine: Literal["auto", "vietasr", "vosk", "whisper", "none"] = "auto"
    vietasr_level_dbfs: float | None = Field(
        -20.0, le=0.0, description="viet-asr: gain each upload or utterance to this RMS level first; null: off"
    )
    asr_one_word_voiced_seconds: float = Field(
        1.5,
        gt=0.0,
        description="nothing or one syllable heard from this much speech: ask again instead of matching it",
    )
    vosk_model: str = "vosk-model-small-vn-0.4"  # folder under models_dir, or an absolute path
    vosk_grammar: bool = False  # restrict Vosk to corpus phrases (+ "[unk]"); free speech is safer
    whisper_model: str = "whisper-base-ct2"
    whisper_beam_size: int = Field(1, ge=1, le=10, description="5 is slightly more accurate, ~20 % slower")
    vosk_sha256: str | None = Field(None, description="pinned SHA-256 of the Vosk model zip to fetch")
    vosk_download_base: str = "https://alphacephei.com/vosk/models/"
    asr_threads: int = Field(2, ge=1, le=64)
    asr_workers: int = Field(2, ge=1, le=64, description="decodes running at once")
    asr_queue_limit: int = Field(8, ge=0, description="requests waiting beyond the workers before 503")
    stream_default_rate: int = Field(8000, description="PCM rate of a stream that sends no config (telephony)")
    max_streams: int = Field(8, ge=1, description="WebSocket streams at once; more are refused")
    max_streams_per_client: int = Field(2, ge=1, description="streams one address may hold open at once")
    stream_first_audio_seconds: float = Field(10.0, gt=0, description="a stream that sends no audio is closed")
    stream_idle_seconds: float = Field(15.0, gt=0, description="a stream that stops sending is closed")
    stream_max_frame_bytes: int = Field(
        1 << 20, ge=4096, description="a bigger binary frame closes the stream (1009); uvicorn refuses larger ones"
    )
    max_stream_seconds: float = 600.0
    max_audio_bytes: int = 10 * 2**20
    max_audio_seconds: float = Field(30.0, gt=0, description="one upload, and one utterance of a stream")
    decode_timeout_seconds: float = Field(20.0, gt=0, description="ffmpeg is stopped after this long")

    # Request intake: bodies, slow clients (see docs/operations.md, security).
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="JSON and every other non-audio body")
    max_prompt_upload_bytes: int = Field(50 * 2**20, ge=1024, description="one admin prompt recording")
    body_read_timeout_seconds: float = Field(30.0, gt=0, description="a body that stalls this long gets 408")
    header_timeout_seconds: float = Field(10.0, gt=0, description="request headers must arrive within this")

    # Admin endpoints: SHA-256 (hex) of the API key; unset disables them.
    admin_api_key_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    admin_failures_allowed: int = Field(5, ge=1, description="wrong keys from one address before it is locked out")
    admin_lockout_max_seconds: float = Field(900.0, gt=0, description="the lockout doubles per failure up to this")

    # Query log: SQLite in data_dir unless DATABASE_URL names a PostgreSQL database.
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("TTHC_DATABASE_URL", "DATABASE_URL"), description="postgresql://..."
    )
    query_log: bool = True
    query_log_retention_days: int = Field(180, ge=1, le=3650)
    query_log_audio: bool = Field(False, description="also keep the uploaded audio (opt-in; personal data)")

    reload_check_seconds: float = Field(5.0, ge=0.0, description="how often to look for corpus/prompt edits; 0: never")

    # Per-client limit on the endpoints that cost CPU; 0 turns it off.
    rate_limit_per_minute: int = Field(120, ge=0)
    rate_limit_burst: int = Field(40, ge=1)
    trusted_proxies: list[str] = Field(
        default_factory=list, description="proxy addresses whose X-Forwarded-For is believed (nginx)"
    )

    # Channels.
    cors_origins: list[str] = Field(
        default_factory=list, description="portal origins allowed to call the API from a browser (widget)"
    )
    search_limit: int = Field(5, ge=1, le=20, description="matches a stream's reply lists (requests choose their own)")
    kiosk_idle_seconds: int = Field(60, ge=5, le=3600, description="kiosk clears itself after this long untouched")
    kiosk_listen_seconds: int = Field(
        12, ge=3, le=60, description="a tap-to-talk question ends after this long even if no pause is heard"
    )
    kiosk_tiles_weeks: int = Field(8, ge=1, le=104, description="tiles are ordered by questions of these weeks")
    kiosk_strings_dir: Path | None = Field(
        None, description="a province's kiosk strings (<lang>.json), tried before the built-in ones"
    )
    life_events_path: Path | None = Field(
        None, description="kiosk life-event tiles; unset: life_events.json beside the corpus"
    )
    audiosocket_port: int | None = Field(None, description="Asterisk AudioSocket server port; unset disables it")
    audiosocket_host: str = "127.0.0.1"
    ivr_max_calls: int = Field(20, ge=1, description="calls at once; more hear 'busy' and are hung up")
    ivr_max_calls_per_address: int | None = Field(
        None, ge=1, description="calls from one Asterisk address; unset: only ivr_max_calls applies"
    )
    ivr_max_pending_per_address: int = Field(
        32, ge=1, description="connections from one address yet to send a UUID (Asterisk may open 20 at once)"
    )
    ivr_first_frame_seconds: float = Field(5.0, gt=0, description="a connection must send its UUID frame in time")
    ivr_idle_seconds: float = Field(30.0, gt=0, description="a call whose peer sends no frame this long is ended")
    ivr_playback_speed: float = Field(
        1.0, ge=0.0, le=16.0, description="prompt pacing vs real time; 0 sends without pacing (tests)"
    )
    ivr_no_input_seconds: float = Field(8.0, gt=0, description="silence after the beep before re-asking")
    ivr_max_utterance_seconds: float = Field(15.0, gt=0)
    ivr_menu_seconds: float = Field(5.0, gt=0, description="wait for the key of the language menu")
    ivr_choice_seconds: float = Field(6.0, gt=0, description="wait for the key that picks one of the choices")
    ivr_max_turns: int = Field(6, ge=1, description="questions per call before goodbye")

    log_format: Literal["json", "text"] = "json"
    shutdown_grace_seconds: int = Field(25, ge=0, description="on SIGTERM, time left to requests in progress")

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def referrals_file(self) -> Path:
        return self.referrals_path or self.corpus_path.with_name("referrals.jsonl")

    @property
    def life_events_file(self) -> Path:
        return self.life_events_path or self.corpus_path.with_name("life_events.json")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if not 0.0 <= self.clarify_min_confidence <= self.answer_min_confidence <= 1.0:
            raise ValueError("need 0 <= TTHC_CLARIFY_MIN_CONFIDENCE <= TTHC_ANSWER_MIN_CONFIDENCE <= 1")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
