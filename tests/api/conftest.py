"""The API through its ASGI app, on SQLite by default and on PostgreSQL where a test asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vardekedja.api import create_app
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

OPERATOR_KEY = "vk_operator0_" + "k" * 43


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_storage(request: pytest.FixtureRequest) -> str:
    return request.param


def api_settings(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if storage == "postgres":
        return Settings(
            data_dir=tmp_path, database_url=request.getfixturevalue("postgres_url"),
            database_schema=request.getfixturevalue("postgres_schema"), operator_key=OPERATOR_KEY,
        )  # fmt: skip
    return Settings(data_dir=tmp_path, database_url=None, operator_key=OPERATOR_KEY)


@pytest.fixture
def runtime(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A runtime on SQLite (the embedded default); tests needing PostgreSQL use ``any_runtime``."""
    runtime = Runtime(api_settings("sqlite", tmp_path, request))
    yield runtime
    runtime.close()


@pytest.fixture
def any_runtime(api_storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    runtime = Runtime(api_settings(api_storage, tmp_path, request))
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_KEY}"}
