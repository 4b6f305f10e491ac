"""The web UI through the ASGI app, on SQLite, with the parties of ``tests.api.support``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Cast, register_cast
from vardekedja.runtime import Runtime
from vardekedja.web import create_web_app


@pytest.fixture
def runtime(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    runtime = Runtime(api_settings("sqlite", tmp_path, request))
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_web_app(runtime=runtime), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


def caught_up(runtime: Runtime) -> None:
    """Pages read the views: let them catch up with everything recorded so far."""
    assert runtime.wait_for(runtime.marketplace.position, 5.0)
