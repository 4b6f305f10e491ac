"""The views' database: SQLite beside the event store by default, or PostgreSQL.

On SQLite the views live in their own file (``views.sqlite3``), apart from the
event store, so that their writes never queue behind event writes. Views can
always be rebuilt from events, so their file trades the last fsync for speed
(``synchronous=NORMAL``); each batch still commits rows and position together.
The projector writes through an engine whose transactions begin IMMEDIATE, so
a writer never has to upgrade a read lock; readers use plain deferred
transactions and never block under WAL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from vardekedja.projections.base import View
from vardekedja.settings import Settings

BUSY_TIMEOUT_MS = 10_000


def _sqlite_engine(path: str, *, begin: str) -> Engine:
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _postgres_engine(settings: Settings) -> Engine:
    assert settings.database_url is not None
    url = sa.make_url(settings.database_url).set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        connect_args={"options": f"-csearch_path={settings.database_schema}", "connect_timeout": 5},
        pool_pre_ping=True,
    )


class ViewDatabase:
    """Engines for writing and reading the views, and the read-your-writes wait."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.uses_postgres:
            self.writer = self.reader = _postgres_engine(settings)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path = str(settings.data_dir / "views.sqlite3")
            self.writer = _sqlite_engine(path, begin="BEGIN IMMEDIATE")
            self.reader = _sqlite_engine(path, begin="BEGIN")
        self._position_query: sa.Select[Any] | None = None

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def create(self, views: Iterable[View]) -> None:
        """Create any missing view tables (a no-op where they exist)."""
        with self.writer.begin() as connection:
            for view in views:
                view.create(connection)

    def positions(self, views: Iterable[View]) -> dict[str, int]:
        with self.reader.connect() as connection:
            return {view.name: view.position(connection) for view in views}

    def watch(self, views: Iterable[View]) -> None:
        """Name the views whose positions ``wait_for`` waits on."""
        parts = [sa.select(view.tracking.c.position) for view in views]
        union = sa.union_all(*parts).subquery()
        self._position_query = sa.select(sa.func.min(union.c.position))

    def processed(self, connection: sa.Connection | None = None) -> int:
        """The position every watched view has reached (as seen by ``connection``, if given)."""
        assert self._position_query is not None, "call watch() first"
        if connection is not None:
            return int(connection.execute(self._position_query).scalar_one_or_none() or 0)
        with self.reader.connect() as connection:
            return int(connection.execute(self._position_query).scalar_one_or_none() or 0)

    def wait_for(self, position: int, timeout: float = 2.0, interval: float = 0.002) -> bool:
        """Wait until every watched view has processed ``position``; False on timeout.

        Polls every couple of milliseconds: cheap next to a request, and it
        works whether the projector runs in this process or another.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.processed() >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
