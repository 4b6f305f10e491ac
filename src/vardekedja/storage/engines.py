"""Engines for our SQL stores: a SQLite file in WAL mode, or PostgreSQL in the configured schema."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from vardekedja.settings import Settings

BUSY_TIMEOUT_MS = 10_000


def sqlite_engine(path: str, *, begin: str) -> Engine:
    # A pool as deep as the server's thread pool (40): past the default five (plus ten
    # overflow), every checkout under load opened, configured and closed a connection.
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 10},
                              pool_size=40, max_overflow=10)  # fmt: skip

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Leave transactions to us (pysqlite's own BEGIN handling defers too late for writers).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten, not left in free pages: erased personal data must leave the files.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def postgres_engine(settings: Settings) -> Engine:
    assert settings.database_url is not None
    url = sa.make_url(settings.database_url).set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        connect_args={"options": f"-csearch_path={settings.database_schema}", "connect_timeout": 5},
        pool_pre_ping=True,
    )
