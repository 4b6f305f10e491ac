"""Shared fixtures: the marketplace on each event store, and PostgreSQL that skips or fails clearly."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.environment import switched_on
from vardekedja.application import Marketplace
from vardekedja.settings import Settings

POSTGRES_URL = os.environ.get("VARDEKEDJA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = switched_on("VARDEKEDJA_REQUIRE_POSTGRES")


def _postgres_problem() -> str | None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {POSTGRES_URL}: {str(error).strip().splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL; skips (or, with VARDEKEDJA_REQUIRE_POSTGRES set, fails) when unreachable."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{problem} (VARDEKEDJA_REQUIRE_POSTGRES is set, so this is a failure)")
        pytest.skip(problem)
    return POSTGRES_URL


def create_postgres_schema(postgres_url: str) -> str:
    """Create a uniquely named empty schema; drop it with ``drop_postgres_schema``."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_postgres_schema(postgres_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, so tests never see each other's tables."""
    schema = create_postgres_schema(postgres_url)
    yield schema
    drop_postgres_schema(postgres_url, schema)


def settings_for(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for one storage kind: 'memory', 'sqlite' or 'postgres'."""
    if storage == "postgres":
        return Settings(
            data_dir=tmp_path,
            database_url=request.getfixturevalue("postgres_url"),
            database_schema=request.getfixturevalue("postgres_schema"),
        )
    return Settings(data_dir=tmp_path, database_url=None)


def store_env(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    if storage == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    return settings_for(storage, tmp_path, request).event_store_env()


class RecordingRefunds:
    """A refund gateway that records what it was asked; the real one talks to Stripe."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        self.calls.append((payment_intent_id, amount_ore, idempotency_key))
        return f"re_{len(self.calls)}"


@pytest.fixture
def refunds() -> RecordingRefunds:
    return RecordingRefunds()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def marketplace(storage: str, tmp_path: Path, request: pytest.FixtureRequest, refunds: RecordingRefunds) -> Iterator[Marketplace]:
    """The application on each event store in turn."""
    app = Marketplace(store_env(storage, tmp_path, request), platform_fee_rate=Fraction(10, 100), payments=refunds)
    yield app
    app.close()


@pytest.fixture
def memory_marketplace(refunds: RecordingRefunds) -> Iterator[Marketplace]:
    """The application on in-memory storage, for unit tests."""
    app = Marketplace({"PERSISTENCE_MODULE": "eventsourcing.popo"}, payments=refunds)
    yield app
    app.close()


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Let each test's apps go once it is done.

    FastAPI remembers whether each endpoint and dependency is a coroutine or a generator in caches keyed by
    the function, up to 4,096 of them; the functions an app builds for itself (fastapi_offline's docs pages)
    hold the app, and the app its runtime, so the caches kept the apps of earlier tests alive: after the 125
    web tests, four million objects, and each full collection of Python's took up to four seconds.
    """
    from fastapi.dependencies import models

    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached", "_is_coroutine_callable_cached"):
        cached = getattr(models, name, None)  # private to FastAPI: gone in some later version, nothing to clear
        if cached is not None:
            cached.cache_clear()
