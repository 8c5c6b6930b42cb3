"""Every question asked, for the province's reports: what people ask, where the service failed.

SQLite in the data folder by default (nothing to set up at a commune); PostgreSQL when
`DATABASE_URL` is set (a province). The schema is owned by Alembic migrations, applied at
start-up. Personal numbers (ID cards, phones) and e-mail addresses are masked before
anything is stored; rows older than the retention period are deleted.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from service.ops.metrics import Metrics

log = logging.getLogger(__name__)

metadata = sa.MetaData()
queries = sa.Table(
    "queries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("input", sa.String(8), nullable=False),  # text | speech
    sa.Column("text", sa.Text, nullable=False),  # masked question or transcript
    sa.Column("decision", sa.String(16), nullable=False, index=True),
    sa.Column("top_codes", sa.String(200), nullable=False),  # up to 3 codes, comma-separated
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("asr_engine", sa.String(16)),
    sa.Column("call_id", sa.String(64)),
    sa.Column("audio_file", sa.String(200)),  # only with TTHC_QUERY_LOG_AUDIO
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Runs of 9+ digits (CMND 9, CCCD 12, phone 10-11), with the separators people type or say.
_NUMBER = re.compile(r"(?<![\w.])\+?\d(?:[\s.-]?\d){8,14}(?![\w])")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def mask_personal(text: str) -> str:
    """Hide ID-card and phone numbers and e-mail addresses; procedure codes (1.001193) stay."""
    return _NUMBER.sub("[số]", _EMAIL.sub("[email]", text))


@dataclass(frozen=True)
class QueryEntry:
    channel: str
    language: str
    input: str
    text: str
    decision: str
    top_codes: list[str]
    confidence: float
    latency_ms: float
    asr_engine: str | None = None
    call_id: str | None = None
    audio_file: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "channel": self.channel,
            "language": self.language,
            "input": self.input,
            "text": mask_personal(self.text)[:1000],
            "decision": self.decision,
            "top_codes": ",".join(self.top_codes[:3]),
            "confidence": round(self.confidence, 4),
            "latency_ms": round(self.latency_ms, 1),
            "asr_engine": self.asr_engine,
            "call_id": self.call_id,
            "audio_file": self.audio_file,
        }


def database_url(explicit: str | None, data_dir: Path) -> str:
    if explicit:
        # Plain postgresql:// URLs use psycopg 3, the driver installed with the service.
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", explicit)
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'queries.db'}"


def migrate(url: str) -> None:
    """Bring the schema to the newest migration (idempotent; safe with several replicas)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA busy_timeout=5000")  # several workers share one file
    cursor.close()


class QueryLog:
    def __init__(self, url: str, retention_days: int) -> None:
        self.url = url
        self.retention_days = retention_days
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate(url)

    def record(self, entry: QueryEntry) -> None:
        """Committed before the reply goes out, so a crash after answering loses nothing."""
        with self.engine.begin() as conn:
            conn.execute(queries.insert().values(**entry.row()))

    def purge(self, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        with self.engine.begin() as conn:
            deleted = conn.execute(queries.delete().where(queries.c.created_at < cutoff)).rowcount
        if deleted:
            log.info("query log: deleted %d rows older than %d days", deleted, self.retention_days)
        return int(deleted or 0)

    def rows(self, since: datetime | None = None) -> list[dict[str, Any]]:
        query = sa.select(queries).order_by(queries.c.id)
        if since is not None:
            query = query.where(queries.c.created_at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def answered_counts(self, since: datetime) -> dict[str, int]:
        """How often each procedure was the answer since `since` (the first of `top_codes`)."""
        query = (
            sa.select(queries.c.top_codes, sa.func.count())
            .where(queries.c.decision == "answer", queries.c.created_at >= since)
            .group_by(queries.c.top_codes)
        )
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for top_codes, n in conn.execute(query):
                code = top_codes.split(",")[0]
                if code:
                    counts[code] = counts.get(code, 0) + int(n)
        return counts

    def close(self) -> None:
        self.engine.dispose()


def keep_audio(data_dir: Path, data: bytes) -> str:
    """Store an uploaded recording (opt-in); the file name goes into the log row."""
    folder = data_dir / "query-audio"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.bin"
    (folder / name).write_bytes(data)
    return name


def safe_record(query_log: QueryLog | None, entry: QueryEntry, metrics: Metrics | None = None) -> None:
    """Count the decision and write the entry; a broken database is logged loudly but never stops an answer."""
    if metrics is not None:
        metrics.observe_decision(entry.channel, entry.decision)
    if query_log is None:
        return
    try:
        query_log.record(entry)
    except Exception:
        log.exception("query log write failed (%s)", query_log.engine.dialect.name)
