"""Blue/green rebuild of one projection while the live one keeps serving.

The new tables are built beside the old ones (suffix ``__next``) from the
event store, without any lock, while readers and the live projector go on
using the old ones. Then, in one transaction that holds off the live
projector, the new tables take in the last few events and are renamed into
place, and the old ones are dropped. Readers see either the old view or the
new one, never a mix; a crash before the swap leaves the old view untouched.
An event the projection cannot apply is parked (recorded, with its position,
in projections/faults.py) and the rebuild goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.application import Application

from vardekedja.projections import PROJECTIONS, faults
from vardekedja.projections.base import NEXT_SUFFIX, OLD_SUFFIX
from vardekedja.projections.database import ViewDatabase
from vardekedja.projections.projector import BATCH_SIZE, Projector


def rebuild(
    store: Application,
    database: ViewDatabase,
    name: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Rebuild the named projection from the event store and swap it in; return its position."""
    projection_class = PROJECTIONS[name]
    live, fresh = projection_class(), projection_class(NEXT_SUFFIX)
    database.create([live.view])
    with database.writer.begin() as connection:
        # Events it skipped before are taken again: what still cannot be applied is parked anew.
        faults.clear(connection, name, action=faults.PARKED)
        fresh.view.drop(connection)
        fresh.view.create(connection)
    builder = Projector(store, database, [fresh], batch_size=batch_size, policy=faults.PARKED,
                        heed_recorded_faults=False)
    builder.catch_up(progress)

    dialect = database.dialect
    with database.writer.begin() as connection:
        # SQLite: this transaction began IMMEDIATE, so no other writer runs until it ends.
        # PostgreSQL: the live projector reads its position first in every batch, so this waits it out.
        if dialect == "postgresql":
            connection.exec_driver_sql(f"LOCK TABLE {live.view.tracking.name} IN ACCESS EXCLUSIVE MODE")
        while events := builder.read(fresh.view.position(connection), batch_size):
            fresh.process_batch(connection, events)
        position = fresh.view.position(connection)
        pairs = list(zip(live.view.all_tables(dialect), fresh.view.all_tables(dialect), strict=True))
        for current, _ in pairs:
            connection.exec_driver_sql(f"ALTER TABLE {current} RENAME TO {current}{OLD_SUFFIX}")
        for current, new in pairs:
            connection.exec_driver_sql(f"ALTER TABLE {new} RENAME TO {current}")
        for current, _ in pairs:
            connection.exec_driver_sql(f"DROP TABLE {current}{OLD_SUFFIX}")
    return position
