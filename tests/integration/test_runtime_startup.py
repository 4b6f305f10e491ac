"""Several server processes starting at once on one PostgreSQL schema all come up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


@pytest.mark.postgres
def test_six_runtimes_starting_together_on_a_fresh_schema_all_start(postgres_url, postgres_schema, tmp_path: Path) -> None:
    barrier, failures, started = threading.Barrier(6), [], []

    def start(index: int) -> None:
        settings = Settings(data_dir=tmp_path / str(index), database_url=postgres_url, database_schema=postgres_schema)
        barrier.wait(timeout=10)
        try:
            runtime = Runtime(settings)
        except Exception as error:  # noqa: BLE001 - any failure to start is what this test looks for
            failures.append(repr(error))
            return
        started.append(index)
        runtime.close()

    threads = [threading.Thread(target=start, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert sorted(started) == list(range(6))
