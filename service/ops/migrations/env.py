"""Alembic environment for the query log; run by `service.ops.querylog.migrate` at start-up."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from service.ops.querylog import metadata

_LOCK_ID = 7_220_011  # PostgreSQL advisory lock: replicas starting together migrate one at a time


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                connection.commit()
    engine.dispose()


run_migrations_online()
