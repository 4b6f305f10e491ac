"""The directory's snapshots on SQLite and PostgreSQL: stored as JSON, loaded back equal to a full replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chain import register_cast
from tests.integration.views_support import backend_settings
from tests.unit.test_directory_loading import register_workshops, replayed_from_every_event, state
from vardekedja.application import Marketplace
from vardekedja.domain.directory import DIRECTORY_ID, SNAPSHOT_EVERY, Directory
from vardekedja.settings import Settings

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path, url) as settings:
        yield settings


def test_a_stored_snapshot_loads_as_the_directory_replayed_from_every_event(settings: Settings) -> None:
    app = Marketplace(settings.event_store_env())
    try:
        register_cast(app)
        register_workshops(app, SNAPSHOT_EVERY)
    finally:
        app.close()

    again = Marketplace(settings.event_store_env())  # a fresh process: nothing in memory
    try:
        assert again.snapshots is not None
        [snapshot] = again.snapshots.get(DIRECTORY_ID, desc=True, limit=1)
        assert isinstance(snapshot, Directory.Snapshot) and snapshot.originator_version == SNAPSHOT_EVERY
        assert state(again.directory()) == state(replayed_from_every_event(again))
        assert state(again.listed()) == state(replayed_from_every_event(again))
    finally:
        again.close()
