"""An erasure reaches every process sharing the keys, on SQLite and PostgreSQL: two runtimes on one store stand
for two server processes (or a server and a projector), each keeping the keys it used in memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import api_settings
from tests.api.test_people import LOOPBACK, OPERATOR, invite, organisation
from vardekedja.api import create_app
from vardekedja.personal_data import ERASURES_CHECKED_EVERY, ErasedSubjectError
from vardekedja.runtime import Runtime


@pytest.fixture
def two_runtimes(api_storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Runtime, Runtime]]:
    settings = api_settings(api_storage, tmp_path, request)
    here = Runtime(settings)
    there = Runtime(settings)
    yield here, there
    there.close()
    here.close()


def test_a_key_erased_by_one_process_is_used_by_no_other_once_the_erasure_answered(
        two_runtimes: tuple[Runtime, Runtime]) -> None:  # fmt: skip
    here, there = two_runtimes
    with TestClient(create_app(runtime=here), base_url=LOOPBACK) as client:
        person = UUID(invite(client, organisation(client))["id"])
        sealed_name = here.marketplace.person(person).name
        assert there.personal_data.open(sealed_name) == "Anna Berg"  # the other process now keeps the key

        erased = client.post(f"/v1/people/{person}/erase", headers=OPERATOR)

        assert erased.status_code == 200, erased.text
        assert there.personal_data.open(sealed_name) is None


def test_another_process_stops_using_an_erased_key_within_the_time_it_looks_for_erasures(
        two_runtimes: tuple[Runtime, Runtime]) -> None:  # fmt: skip
    here, there = (runtime.personal_data for runtime in two_runtimes)
    anna, bo = uuid4(), uuid4()
    sealed_anna, sealed_bo = here.seal(anna, "Anna"), here.seal(bo, "Bo")
    assert (there.open(sealed_anna), there.open(sealed_bo)) == ("Anna", "Bo")

    here.erase(anna)
    time.sleep(ERASURES_CHECKED_EVERY)

    assert (there.open(sealed_anna), there.open(sealed_bo)) == (None, "Bo")
    with pytest.raises(ErasedSubjectError):
        there.seal(anna, "Anna again")
