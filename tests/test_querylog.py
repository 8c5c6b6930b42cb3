"""The query log on both backends: SQLite (default) and a real PostgreSQL started for the tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.ops.querylog import QueryEntry, QueryLog, database_url, mask_personal, migrate
from tests.ci import missing
from tests.speech import free_port


def _pg_binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback (Debian's postgresql package)."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        missing("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tthc-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [*as_postgres, initdb, "-D", str(data), "-A", "trust", "-U", "tthc", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_postgres, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://tthc@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def query_log(request, tmp_path) -> Iterator[QueryLog]:
    if request.param == "sqlite":
        url = database_url(None, tmp_path)
    else:
        url = database_url(request.getfixturevalue("postgres_url"), tmp_path)
    log = QueryLog(url, retention_days=30)
    with log.engine.begin() as conn:  # the Postgres cluster is shared by the module's tests
        conn.execute(sa.text("DELETE FROM queries"))
    yield log
    log.close()


def _entry(text: str = "làm giấy khai sinh", **extra: object) -> QueryEntry:
    values: dict[str, object] = {
        "channel": "web",
        "language": "vi",
        "input": "text",
        "text": text,
        "decision": "answer",
        "top_codes": ["1.001193", "1.000656", "1.000894", "2.000815"],
        "confidence": 0.87654,
        "latency_ms": 63.21,
    }
    values.update(extra)
    return QueryEntry(**values)  # type: ignore[arg-type]


def test_personal_numbers_and_emails_are_masked():
    assert mask_personal("CCCD của tôi là 001203004567 ạ") == "CCCD của tôi là [số] ạ"
    assert mask_personal("số cmnd 012345678") == "số cmnd [số]"
    assert mask_personal("gọi 0912 345 678 hoặc +84 912.345.678") == "gọi [số] hoặc [số]"
    assert mask_personal("gửi về an.nguyen@gmail.com nhé") == "gửi về [email] nhé"
    kept = "thủ tục 1.001193 năm 2024 cần 2 bản sao, lệ phí 50.000 đồng"
    assert mask_personal(kept) == kept


def test_entries_are_stored_masked_and_trimmed(query_log: QueryLog):
    query_log.record(_entry("hỏi cho con, sđt 0987654321", call_id="c-1", asr_engine="whisper", input="speech"))
    (row,) = query_log.rows()
    assert row["text"] == "hỏi cho con, sđt [số]"
    assert row["top_codes"] == "1.001193,1.000656,1.000894"  # top three only
    assert row["confidence"] == pytest.approx(0.8765)
    assert (row["call_id"], row["asr_engine"], row["input"]) == ("c-1", "whisper", "speech")
    assert row["created_at"].tzinfo is not None or query_log.engine.dialect.name == "sqlite"


def test_retention_deletes_only_old_rows(query_log: QueryLog):
    now = datetime.now(UTC)
    query_log.record(_entry("cũ", created_at=now - timedelta(days=31)))
    query_log.record(_entry("mới", created_at=now - timedelta(days=29)))
    assert query_log.purge(now) == 1
    assert [r["text"] for r in query_log.rows()] == ["mới"]


def test_concurrent_writers_lose_nothing(query_log: QueryLog):
    def write(n: int) -> None:
        for i in range(25):
            query_log.record(_entry(f"câu {n}-{i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(query_log.rows()) == 200


def test_migrations_are_idempotent_and_versioned(query_log: QueryLog):
    migrate(query_log.url)  # a second replica starting: nothing to do, no error
    with query_log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"


def test_postgres_urls_use_the_installed_driver(tmp_path):
    assert database_url("postgres://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert database_url(None, tmp_path) == f"sqlite:///{tmp_path / 'queries.db'}"


def test_the_service_itself_logs_to_postgresql_and_reports_from_it(postgres_url, synthesized_site, tmp_path):
    """`DATABASE_URL` set: migrations, every question, the officials' reports and the kiosk's
    tile order all go through the real PostgreSQL, via a real uvicorn server."""
    import hashlib

    import httpx

    from tests.server import live_server

    with sa.create_engine(database_url(postgres_url, tmp_path)).begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS queries, alembic_version"))  # a fresh database
    env = {
        "DATABASE_URL": postgres_url,
        "TTHC_CORPUS_PATH": str(synthesized_site / "procedures.jsonl"),
        "TTHC_PROMPTS_DIR": str(synthesized_site / "prompts"),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "none",
        "TTHC_RATE_LIMIT_PER_MINUTE": "0",
        "TTHC_ADMIN_API_KEY_SHA256": hashlib.sha256(b"officer-key").hexdigest(),
    }
    with live_server(env, tmp_path) as base:
        for text in ["đăng ký kết hôn", "đăng ký kết hôn", "làm giấy kết hôn", "khai sinh cho con", "giá vàng hôm nay"]:
            assert httpx.post(f"{base}/v1/search", json={"text": text, "channel": "kiosk"}).status_code == 200
        report = httpx.get(
            f"{base}/admin/insights", params={"format": "json"}, headers={"X-API-Key": "officer-key"}
        ).json()
        tiles = httpx.get(f"{base}/v1/kiosk/tiles").json()
    assert report["total"] == 5
    asked = {row["code"]: row["count"] for row in report["top"]}
    assert asked == {"1.000894": 3, "1.001193": 1}
    assert any("giá vàng hôm nay" in c["examples"] for c in report["unanswered"])
    assert tiles[0]["code"] == "1.000894" and tiles[0]["asked"] == 3
    with sa.create_engine(database_url(postgres_url, tmp_path)).connect() as conn:
        stored = conn.execute(sa.text("SELECT text, channel FROM queries ORDER BY id")).all()
    assert [r.text for r in stored][-1] == "giá vàng hôm nay" and {r.channel for r in stored} == {"kiosk"}
