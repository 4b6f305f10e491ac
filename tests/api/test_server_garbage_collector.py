"""What a server process does with Python's garbage collector once it is ready (api/app.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from vardekedja.api import create_app
from vardekedja.api.app import SERVER_GC_THRESHOLDS
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path, database_url=None, operator_key=OPERATOR_KEY)
    runtime = Runtime(settings)
    thresholds = gc.get_threshold()
    try:
        yield runtime
    finally:
        runtime.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_server_process_freezes_what_it_built_and_collects_less_often(runtime: Runtime) -> None:
    assert gc.get_threshold() != SERVER_GC_THRESHOLDS  # Python's default in this test process

    with TestClient(create_app(runtime=runtime, freeze_after_start=True)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == SERVER_GC_THRESHOLDS


def test_an_app_made_for_tests_leaves_the_collector_alone(runtime: Runtime) -> None:
    before = gc.get_threshold(), gc.get_freeze_count()

    with TestClient(create_app(runtime=runtime)) as client:
        assert client.get("/healthz").status_code == 200
        assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_thresholds_keep_the_youngest_generation_collected_and_full_collections_possible() -> None:
    youngest, middle, oldest = SERVER_GC_THRESHOLDS
    assert 700 <= youngest <= 100_000  # 0 would turn the collector off; cycles must still be found
    assert 1 <= middle <= 100 and 1 <= oldest <= 1_000
