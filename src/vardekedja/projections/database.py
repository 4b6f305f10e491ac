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

from vardekedja.projections import faults
from vardekedja.projections.base import View
from vardekedja.settings import Settings
from vardekedja.storage.engines import postgres_engine, sqlite_engine


class ViewDatabase:
    """Engines for writing and reading the views, and the read-your-writes wait."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.uses_postgres:
            self.writer = self.reader = postgres_engine(settings)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path = str(settings.data_dir / "views.sqlite3")
            self.writer = sqlite_engine(path, begin="BEGIN IMMEDIATE")
            self.reader = sqlite_engine(path, begin="BEGIN")
        self._position_query: sa.Select[Any] | None = None

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def create(self, views: Iterable[View]) -> None:
        """Create any missing view tables (a no-op where they exist)."""
        with self.writer.begin() as connection:
            faults.create(connection)
            for view in views:
                view.create(connection)

    def outdated(self, views: Iterable[View]) -> list[str]:
        """The views another version made: some of their tables exist, but a table or column this one
        declares is missing, or their tracking row holds another ``View.version``. ``create`` would add the
        missing tables empty and never changes one that exists, so such a view must be rebuilt from the
        events. (A view with no tables at all is new.)
        """
        found = []
        with self.reader.connect() as connection:
            inspector = sa.inspect(connection)
            existing = set(inspector.get_table_names(schema=self._schema))
            for view in views:
                wanted = {table.name: set(table.columns.keys()) for table in view.metadata.tables.values()}
                wanted[view.tracking.name].discard("version")  # ``create`` adds it to tracking from before
                for table, columns in view.extra_columns(self.dialect).items():
                    wanted.setdefault(table, set()).update(columns)
                if not existing & wanted.keys():
                    continue
                for table, columns in wanted.items():
                    present = set()
                    if table in existing:
                        present = {column["name"] for column in inspector.get_columns(table, schema=self._schema)}
                    if not columns <= present:
                        found.append(view.name)
                        break
                else:
                    if view.stored_version(connection) != view.version:
                        found.append(view.name)
        return found

    @property
    def _schema(self) -> str | None:
        return self.settings.database_schema if self.settings.uses_postgres else None

    def positions(self, views: Iterable[View]) -> dict[str, int]:
        with self.reader.connect() as connection:
            return {view.name: view.position(connection) for view in views}

    def watch(self, views: Iterable[View]) -> None:
        """Name the views whose positions ``wait_for`` waits on (a view stopped at a fault is not waited for)."""
        parts = [sa.select(sa.literal(view.name).label("name"), view.tracking.c.position) for view in views]
        union = sa.union_all(*parts).subquery()
        stopped = sa.select(faults.faults.c.projection).where(faults.faults.c.action == faults.STOPPED)
        self._position_query = sa.select(sa.func.min(union.c.position)).where(union.c.name.not_in(stopped))

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
