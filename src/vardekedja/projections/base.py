"""What every projection shares: its own tables, its tracking row, and batched writes.

A projection turns a batch of events into view writes. It does not write row by
row: the rows a batch touches are gathered in memory (loaded once if they
existed before the batch) and written back with one ``executemany`` per table
at the end, together with the new tracking position, in one transaction. That
keeps catch-up fast without changing what is written, and a batch that fails
leaves neither rows nor position behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.organisation import Role

NEXT_SUFFIX = "__next"
OLD_SUFFIX = "__old"


class ConcurrentProjectorError(RuntimeError):
    """Another projector moved this projection's position while this one worked."""


class Rows:
    """The rows of one table that a batch touches, keyed by primary key.

    A key is the value itself for a one-column primary key and a tuple for a
    longer one. Rows handed out by ``row()`` are written back at ``flush()``,
    so a handler changes a row by changing the dict it was given.
    """

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.key_columns = [column.name for column in table.primary_key.columns]
        self.simple = len(self.key_columns) == 1
        self._rows: dict[Any, dict[str, Any] | None] = {}
        self._new: set[Any] = set()
        self._changed: set[Any] = set()
        self._deleted: set[Any] = set()
        self._before: dict[Any, dict[str, Any]] = {}
        # Statements built once: building one (and its cache key) costs more than running it.
        key_match = [table.c[name] == sa.bindparam(f"k_{name}") for name in self.key_columns]
        self._select = table.select().where(*key_match)
        self._insert = table.insert()
        self._delete = table.delete().where(*key_match)
        self._updates: dict[tuple[str, ...], sa.Update] = {}
        self._value_columns = [c.name for c in table.columns if c.name not in self.key_columns]

    def _key_of(self, row: dict[str, Any]) -> Any:
        if self.simple:
            return row[self.key_columns[0]]
        return tuple(row[name] for name in self.key_columns)

    def _key_params(self, key: Any) -> dict[str, Any]:
        values = (key,) if self.simple else key
        return {f"k_{name}": value for name, value in zip(self.key_columns, values, strict=True)}

    def get(self, connection: Connection, key: Any) -> dict[str, Any] | None:
        """The row as this batch sees it, or None; loaded from the table once. Read only."""
        try:
            return self._rows[key]
        except KeyError:
            found = connection.execute(self._select, self._key_params(key)).mappings().first()
            row = self._rows[key] = dict(found) if found is not None else None
            return row

    def row(self, connection: Connection, key: Any) -> dict[str, Any] | None:
        """The row to change in place, or None if the view never saw it (then nothing changes)."""
        row = self.get(connection, key)
        if row is not None and key not in self._new and key not in self._changed:
            self._changed.add(key)
            self._before[key] = dict(row)  # to write back only the columns that change
        return row

    def prefetch(self, connection: Connection, values: set[Any], chunk: int = 500) -> None:
        """Load every row whose first key column is among ``values``, in a few queries.

        With a one-column key, a value not found is remembered as absent too,
        so the batch never asks for it again.
        """
        first = self.key_columns[0]
        known = self._rows if self.simple else ()
        wanted = sorted((value for value in values if value is not None and value not in known), key=str)
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            found = connection.execute(self.table.select().where(self.table.c[first].in_(part))).mappings()
            for row in found:
                self._rows.setdefault(self._key_of(row), dict(row))
            if self.simple:
                for value in part:
                    self._rows.setdefault(value, None)

    def insert(self, row: dict[str, Any]) -> None:
        key = self._key_of(row)
        self._rows[key] = row
        if key in self._deleted:
            self._deleted.discard(key)
            self._changed.add(key)
        else:
            self._new.add(key)

    def delete(self, connection: Connection, key: Any) -> None:
        if self.get(connection, key) is None:
            return
        self._rows[key] = None
        if key in self._new:
            self._new.discard(key)
        else:
            self._changed.discard(key)
            self._deleted.add(key)

    def flush(self, connection: Connection) -> None:
        if self._deleted:
            connection.execute(self._delete, [self._key_params(k) for k in self._deleted])
        if self._new:
            connection.execute(self._insert, [self._rows[key] for key in self._new])
        if self._changed:
            # Rows are grouped by the columns that actually changed, one executemany per group:
            # binding every column of every changed row cost more than the writes themselves.
            columns = self._value_columns
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for key in self._changed:
                row, before = self._rows[key], self._before.get(key)
                assert row is not None
                changed = tuple(name for name in columns if before is None or row[name] != before[name])
                if changed:
                    entry = self._key_params(key)
                    entry.update({f"v_{name}": row[name] for name in changed})
                    groups.setdefault(changed, []).append(entry)
            for changed, params in groups.items():
                connection.execute(self._update(changed), params)
        self.reset()

    def _update(self, columns: tuple[str, ...]) -> sa.Update:
        try:
            return self._updates[columns]
        except KeyError:
            statement = self._updates[columns] = self.table.update().where(
                *[self.table.c[name] == sa.bindparam(f"k_{name}") for name in self.key_columns]
            ).values({name: sa.bindparam(f"v_{name}") for name in columns})
            return statement

    def reset(self) -> None:
        """Forget the batch (after a flush, or after a failed batch whose transaction rolled back)."""
        self._rows.clear()
        self._new.clear()
        self._changed.clear()
        self._deleted.clear()
        self._before.clear()


class View:
    """A projection's tables, named with an optional suffix so a rebuild can build beside them.

    ``version`` is kept in the tracking row. Raise it whenever what the projection writes for the same events
    changes (a new status, a fixed rule): a view made by another version is rebuilt from the events on start.
    """

    version = 1

    def __init__(self, name: str, suffix: str = "") -> None:
        self.name = name
        self.suffix = suffix
        # Index and constraint names carry a token unique to this build: a swap renames
        # tables but not their indexes, so the next build must not reuse those names.
        self.token = token = secrets.token_hex(4)
        self.metadata = sa.MetaData(
            naming_convention={
                "ix": f"ix_%(table_name)s_%(column_0_N_name)s_{token}",
                "uq": f"uq_%(table_name)s_%(column_0_N_name)s_{token}",
                "pk": f"pk_%(table_name)s_{token}",
            }
        )
        self.tracking = sa.Table(
            self.table_name("tracking"),
            self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        )
        self._position = sa.select(self.tracking.c.position)
        self._advance = (
            self.tracking.update()
            .where(self.tracking.c.position == sa.bindparam("old"))
            .values(position=sa.bindparam("new"))
        )
        self.define()

    def table_name(self, base: str) -> str:
        return f"{self.name}_{base}{self.suffix}"

    def define(self) -> None:
        """Declare the view's tables on ``self.metadata``."""

    def workshop_reach(self) -> tuple[sa.Table, sa.Table]:
        """The view's own copy of each workshop's capabilities and service area (for eligibility queries)."""
        capabilities = sa.Table(
            self.table_name("workshop_capabilities"),
            self.metadata,
            sa.Column("workshop_id", sa.Uuid, primary_key=True),
            sa.Column("capability", sa.String, primary_key=True),
        )
        areas = sa.Table(
            self.table_name("workshop_areas"),
            self.metadata,
            sa.Column("workshop_id", sa.Uuid, primary_key=True),
            sa.Column("municipality", sa.String, primary_key=True, index=True),
        )
        return capabilities, areas

    def extra_ddl(self, dialect: str) -> list[str]:
        """Statements the metadata cannot express (a full-text index), run after create."""
        return []

    def extra_tables(self, dialect: str) -> list[str]:
        """Tables made by ``extra_ddl`` rather than the metadata (they move with the rest in a swap)."""
        return []

    def extra_columns(self, dialect: str) -> dict[str, set[str]]:
        """Columns that ``extra_ddl`` makes, by table: checked with the metadata's own (see ``ViewDatabase.outdated``)."""
        return {}

    def all_tables(self, dialect: str) -> list[str]:
        """Every table of the view, in the same order for any suffix."""
        return [table.name for table in self.metadata.tables.values()] + self.extra_tables(dialect)

    def create(self, connection: Connection) -> None:
        self.metadata.create_all(connection)
        for statement in self.extra_ddl(connection.dialect.name):
            connection.exec_driver_sql(statement)
        if "version" not in {column["name"] for column in sa.inspect(connection).get_columns(self.tracking.name)}:
            # Tracking from before views had versions: they were all version 1.
            connection.exec_driver_sql(f"ALTER TABLE {self.tracking.name} ADD COLUMN version INTEGER NOT NULL DEFAULT 1")
        if connection.execute(sa.select(sa.func.count()).select_from(self.tracking)).scalar_one() == 0:
            connection.execute(self.tracking.insert().values(id=1, position=0, version=self.version))

    def stored_version(self, connection: Connection) -> int:
        """The version of the code that made the view's rows (1 where the tracking predates versions)."""
        if "version" not in {column["name"] for column in sa.inspect(connection).get_columns(self.tracking.name)}:
            return 1
        return int(connection.execute(sa.select(self.tracking.c.version)).scalar_one_or_none() or self.version)

    def drop(self, connection: Connection) -> None:
        for name in self.extra_tables(connection.dialect.name):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        self.metadata.drop_all(connection)

    def position(self, connection: Connection) -> int:
        return int(connection.execute(self._position).scalar_one_or_none() or 0)

    def advance(self, connection: Connection, old: int, new: int) -> None:
        """Move the tracking position, refusing if another projector moved it first."""
        moved = connection.execute(self._advance, {"old": old, "new": new})
        if moved.rowcount != 1:
            raise ConcurrentProjectorError(f"the {self.name} projection was advanced by another projector")


class KeptAnswers(Protocol):
    """Answers read from a view and kept in memory elsewhere (the HTTP layer's ``Memo``).

    The projection tells it before a batch that changes the view commits
    (``changing``) and once the batch has ended (``settled``, with the
    position committed, or None); ``applied`` is the position it last heard
    of. The runtime says whether this process's projector is the one applying
    every change (``trust``).
    """

    applied: int | None

    def changing(self) -> None: ...

    def settled(self, applied: int | None) -> None: ...

    def trust(self, trusted: bool) -> None: ...


class Projection:
    """Turns events into writes on its view; nothing else.

    Subclasses register handlers on ``process_event`` with
    ``@process_event.register`` and touch rows through ``get``, ``row``, ``insert`` and ``delete``.
    """

    name: str = ""
    view_class: type[View] = View

    def __init__(self, suffix: str = "") -> None:
        self.view = self.view_class(self.name, suffix)
        self.rows: dict[sa.Table, Rows] = {}
        self.connection: Connection | None = None
        self._handlers: dict[type, Any] = {}
        self.kept: KeptAnswers | None = None  # answers read from this view and kept in memory, if any
        self._batch_end: int | None = None

    def _handler(self, event_type: type) -> Any:
        """The registered handler for an event type, or None; looked up once per type.

        Calling the ``singledispatchmethod`` itself builds a bound wrapper on
        every call, which costs more than most handlers do.
        """
        try:
            return self._handlers[event_type]
        except KeyError:
            dispatcher = type(self).__dict__.get("process_event", Projection.__dict__["process_event"]).dispatcher
            handler = dispatcher.dispatch(event_type)
            fallback = dispatcher.dispatch(object)
            self._handlers[event_type] = found = None if handler is fallback else handler
            return found

    def table_rows(self, table: sa.Table) -> Rows:
        try:
            return self.rows[table]
        except KeyError:
            rows = self.rows[table] = Rows(table)
            return rows

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Events this projection has no handler for change nothing."""

    def process_batch(self, connection: Connection, events: Sequence[tuple[int, Any]], old: int | None = None) -> int:
        """Apply the events past this view's position and advance it, in the caller's transaction.

        Returns how many events were new to this view; events at or before the
        stored position are skipped, so a batch seen twice changes nothing.
        The position is read first, before any row is touched (``old``, if the
        caller read it already in this transaction): on PostgreSQL a rebuild's
        swap locks the tracking table first, so the two take their locks in
        the same order and one waits for the other (see rebuild.py).
        """
        if old is None:
            old = self.view.position(connection)
        if self.kept is not None:
            self._batch_end = max([old, *(position for position, _ in events)])
            # Someone else moved the view (a swapped-in rebuild, another projector), or this
            # batch changes it: either way what is kept may be stale.
            if old != self.kept.applied or any(self._handler(type(e)) is not None for _, e in events):
                self.kept.changing()
        fresh = [(position, domain_event) for position, domain_event in events if position > old]
        if not fresh:
            return 0
        self.connection = connection
        try:
            self.prefetch([domain_event for _, domain_event in fresh])
            for position, domain_event in fresh:
                handler = self._handler(type(domain_event))
                if handler is not None:
                    handler(self, domain_event, position)
            for rows in self.rows.values():
                rows.flush(connection)
        finally:
            self.connection = None
            for rows in self.rows.values():
                rows.reset()
        self.view.advance(connection, old, fresh[-1][0])
        return len(fresh)

    def prefetch(self, events: list[Any]) -> None:
        """Load the rows this batch will touch in a few queries (see ``load``); optional."""

    def settled(self, committed: bool) -> None:
        """The transaction of the last ``process_batch`` has ended, committed or not."""
        if self.kept is not None:
            position, self._batch_end = self._batch_end, None
            self.kept.settled(position if committed else None)

    # Helpers for handlers.

    def load(self, table: sa.Table, values: set[Any]) -> None:
        assert self.connection is not None
        self.table_rows(table).prefetch(self.connection, values)

    @property
    def dialect(self) -> str:
        assert self.connection is not None
        return self.connection.dialect.name

    def get(self, table: sa.Table, key: Any) -> dict[str, Any] | None:
        """Read a row (the key is a value, or a tuple for a composite key); never written back."""
        assert self.connection is not None
        return self.table_rows(table).get(self.connection, key)

    def row(self, table: sa.Table, key: Any) -> dict[str, Any] | None:
        """A row to change in place; written back at the end of the batch."""
        assert self.connection is not None
        return self.table_rows(table).row(self.connection, key)

    def insert(self, table: sa.Table, **row: Any) -> None:
        self.table_rows(table).insert(row)

    def update(self, table: sa.Table, key: Any, **values: Any) -> dict[str, Any] | None:
        row = self.row(table, key)
        if row is not None:
            row.update(values)
        return row

    def delete(self, table: sa.Table, key: Any) -> None:
        assert self.connection is not None
        self.table_rows(table).delete(self.connection, key)

    def record_workshop_reach(self, registered: Any, capabilities: sa.Table, areas: sa.Table) -> None:
        """Copy a newly registered workshop's capabilities and service area into ``workshop_reach`` tables."""
        if registered.role != Role.WORKSHOP:
            return
        for capability in registered.capabilities:
            self.insert(capabilities, workshop_id=registered.originator_id, capability=capability)
        for municipality in registered.service_area:
            self.insert(areas, workshop_id=registered.originator_id, municipality=municipality)
