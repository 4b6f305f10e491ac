"""API keys found in memory, and never after their revocation has answered.

The organisations view's ``Memo`` (``api.memo.keys``) keeps what a key lookup
found only while this process's own projector applies every change to the
views: everything is dropped before a batch that changes organisations
commits, nothing is kept while such a batch is under way, and a lookup that
overlapped one (its generation moved on) is not kept either. When another
process applies the changes, nothing is kept.

First the rules on a ``Memo`` alone, then with a real runtime (its projector
driven by hand where the order of things matters, or embedded), then through
the HTTP API with requests using a key while it is revoked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Party, ok, operator_party, register
from tests.chain import SITE, Cast, published_design, register_cast
from tests.integration.views_support import backend_settings
from vardekedja.api import create_app
from vardekedja.api.deps import Caller, _lookup
from vardekedja.api.memo import Memo, keep_in_memory, keys
from vardekedja.application import IssuedKey, hash_api_key, split_api_key
from vardekedja.domain.order import LineRequest
from vardekedja.domain.organisation import Role
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.projections.projector import Projector
from vardekedja.projections.rebuild import rebuild
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

FOUND = [("hash", "caller")]


# The rules, on a Memo alone.


def test_nothing_is_kept_until_the_projector_is_trusted() -> None:
    keys = Memo()

    keys.remember("k1", FOUND, keys.generation)

    assert keys.find("k1") is None


def test_a_lookup_is_kept_while_trusted_and_forgotten_when_trust_ends() -> None:
    keys = Memo()
    keys.trust(True)

    keys.remember("k1", FOUND, keys.generation)
    assert keys.find("k1") == FOUND
    assert keys.find("k2") is None

    keys.trust(False)
    assert keys.find("k1") is None
    keys.remember("k1", FOUND, keys.generation)
    assert keys.find("k1") is None
    keys.trust(True)  # trusted again: nothing from before survives
    assert keys.find("k1") is None


def test_a_change_drops_everything_and_nothing_is_kept_until_it_has_settled() -> None:
    keys = Memo()
    keys.trust(True)
    keys.remember("k1", FOUND, keys.generation)

    keys.changing()
    assert keys.find("k1") is None
    keys.remember("k2", FOUND, keys.generation)  # even with the generation of now
    assert keys.find("k2") is None

    keys.settled(42)
    assert keys.applied == 42
    assert keys.find("k1") is None and keys.find("k2") is None
    keys.remember("k3", FOUND, keys.generation)
    assert keys.find("k3") == FOUND


def test_a_lookup_that_overlapped_a_change_is_not_kept() -> None:
    keys = Memo()
    keys.trust(True)
    before = keys.generation  # a lookup begins ...
    keys.changing()  # ... a batch with organisation events starts
    during = keys.generation  # another lookup begins while it is under way
    keys.settled(7)  # ... and commits

    keys.remember("before", FOUND, before)
    keys.remember("during", FOUND, during)

    assert keys.find("before") is None and keys.find("during") is None
    keys.remember("after", FOUND, keys.generation)
    assert keys.find("after") == FOUND


def test_a_lookup_started_before_trust_changed_is_not_kept() -> None:
    keys = Memo()
    untrusted = keys.generation
    keys.trust(True)
    keys.remember("k1", FOUND, untrusted)
    assert keys.find("k1") is None
    trusted = keys.generation
    keys.trust(False)
    keys.trust(True)
    keys.remember("k1", FOUND, trusted)
    assert keys.find("k1") is None


def test_a_batch_that_changed_no_keys_keeps_what_is_kept_and_a_failed_one_forgets_where_it_was() -> None:
    keys = Memo()
    keys.trust(True)
    assert keys.applied is None
    generation = keys.generation
    keys.remember("k1", FOUND, generation)

    keys.settled(10)  # a batch without organisation events

    assert keys.applied == 10 and keys.generation == generation
    assert keys.find("k1") == FOUND
    keys.remember("k2", FOUND, generation)  # a lookup in flight across it is still good
    assert keys.find("k2") == FOUND
    keys.changing()
    keys.settled(None)  # that batch did not commit
    assert keys.applied is None and keys.find("k1") is None
    keys.trust(True)
    assert keys.applied is None


# With a runtime whose projector is driven by hand.


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=None))
    keep_in_memory(runtime)  # as the HTTP app does when it starts
    yield runtime
    runtime.close()


def presented(issued: IssuedKey) -> str:
    parts = split_api_key(issued.api_key)
    assert parts is not None
    return hash_api_key(parts[1])


def look_up(runtime: Runtime, issued: IssuedKey) -> Caller | None:
    return _lookup(runtime, issued.key_id, presented(issued))


def look_up_until_kept(runtime: Runtime, issued: IssuedKey, attempts: int = 50) -> Caller | None:
    """Look the key up until the lookup is kept.

    A lookup made while the projector has committed a batch with organisation
    events but not yet said so (``settled``) is rightly not kept; the next one is.
    """
    for _ in range(attempts):
        caller = look_up(runtime, issued)
        if keys(runtime).find(issued.key_id) is not None:
            return caller
        time.sleep(0.002)
    raise AssertionError(f"{attempts} lookups of a live key, and none was kept")


def test_a_projector_driven_by_this_process_keeps_lookups_until_organisations_change(runtime: Runtime, tmp_path) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    design_id = published_design(app, cast)
    keys(runtime).trust(True)  # as ``follow`` does once it holds the projector lock
    runtime.projector.catch_up()

    caller = look_up(runtime, buyer)
    assert caller == Caller(cast.buyer, Role.BUYER, "Botkyrkabyggen")
    assert keys(runtime).find(buyer.key_id) is not None

    app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)])
    runtime.projector.catch_up()
    assert keys(runtime).find(buyer.key_id) is not None, "a batch that changed no organisation dropped the keys"

    app.issue_api_key(cast.designer)  # any organisation event drops everything
    runtime.projector.catch_up()
    assert keys(runtime).find(buyer.key_id) is None
    assert look_up(runtime, buyer) == caller
    assert keys(runtime).find(buyer.key_id) is not None

    app.revoke_api_key(cast.buyer, buyer.key_id)
    runtime.projector.catch_up()
    assert keys(runtime).find(buyer.key_id) is None
    assert look_up(runtime, buyer) is None
    assert keys(runtime).find(buyer.key_id) is None


def test_a_view_swapped_in_by_a_rebuild_drops_what_was_kept(runtime: Runtime) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    design_id = published_design(app, cast)
    keys(runtime).trust(True)
    runtime.projector.catch_up()
    assert look_up(runtime, buyer) is not None and keys(runtime).find(buyer.key_id) is not None

    app.revoke_api_key(cast.buyer, buyer.key_id)
    rebuild(app, runtime.database, "organisations")  # moves the live view past the revocation
    app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)])
    runtime.projector.catch_up()  # this process's projector sees the view moved by someone else

    assert keys(runtime).find(buyer.key_id) is None
    assert look_up(runtime, buyer) is None


def test_a_view_moved_by_someone_else_drops_what_was_kept_even_in_a_batch_without_organisation_events(
    runtime: Runtime,
) -> None:
    """A projector that starts past what the rebuild applied never sees the revocation as an event."""
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    design_id = published_design(app, cast)
    organisations = next(p for p in runtime.projections if p.name == "organisations")
    projector = Projector(app, runtime.database, [organisations])
    keys(runtime).trust(True)
    projector.catch_up()
    assert look_up(runtime, buyer) is not None and keys(runtime).find(buyer.key_id) is not None

    app.revoke_api_key(cast.buyer, buyer.key_id)
    rebuild(app, runtime.database, "organisations")
    app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)])
    assert projector.catch_up() == 1  # only the order: the revocation was applied by the rebuild

    assert keys(runtime).find(buyer.key_id) is None
    assert look_up(runtime, buyer) is None


def test_a_lookup_that_read_the_key_before_its_revocation_committed_is_not_kept(runtime: Runtime, monkeypatch) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    keys(runtime).trust(True)
    runtime.projector.catch_up()
    view = runtime.view(OrganisationsView)
    active_keys = view.active_keys
    read, go = threading.Event(), threading.Event()

    def slow_active_keys(connection: Any, key_id: str) -> Any:
        found = active_keys(connection, key_id)
        if threading.current_thread().name == "slow lookup":
            read.set()  # it has read the key as active ...
            assert go.wait(10)  # ... and is held there while the revocation reaches the views
        return found

    monkeypatch.setattr(view, "active_keys", slow_active_keys)
    answers: list[Caller | None] = []
    lookup = threading.Thread(target=lambda: answers.append(look_up(runtime, buyer)), name="slow lookup")
    lookup.start()
    assert read.wait(10)

    app.revoke_api_key(cast.buyer, buyer.key_id)
    runtime.projector.catch_up()
    go.set()
    lookup.join(10)

    # It overlapped the revocation, so it may answer either way (it finds the views behind the store and
    # confirms the key against the organisation's events, which refuse it).
    assert len(answers) == 1
    assert keys(runtime).find(buyer.key_id) is None, "a lookup from before the revocation was kept after it"
    assert look_up(runtime, buyer) is None


def test_nothing_is_kept_when_this_process_does_not_run_the_projector(runtime: Runtime) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    runtime.projector.catch_up()  # the views are there, but this process's projector is not following

    assert look_up(runtime, buyer) is not None
    assert keys(runtime).find(buyer.key_id) is None


# With the embedded projector.


def test_the_embedded_projector_keeps_a_key_once_looked_up_and_drops_it_when_revoked(runtime: Runtime) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    runtime.start_embedded_projector()
    for round_no in range(5):
        issued = app.issue_api_key(cast.buyer)
        assert runtime.wait_for(issued.position, timeout=10)

        assert look_up_until_kept(runtime, issued) == Caller(cast.buyer, Role.BUYER, "Botkyrkabyggen")
        assert look_up(runtime, issued) is not None

        revoked = app.revoke_api_key(cast.buyer, issued.key_id)
        assert runtime.wait_for(revoked.position, timeout=10)

        assert keys(runtime).find(issued.key_id) is None, f"round {round_no}: the revoked key is still in memory"
        assert look_up(runtime, issued) is None
        assert keys(runtime).find(issued.key_id) is None


def test_the_embedded_projector_stops_trusting_when_it_stops(runtime: Runtime) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    buyer = app.issue_api_key(cast.buyer)
    runtime.start_embedded_projector()
    assert runtime.wait_for(buyer.position, timeout=10)
    assert look_up_until_kept(runtime, buyer) is not None

    runtime.stop()
    for thread in runtime._threads:
        thread.join(timeout=10)

    assert keys(runtime).find(buyer.key_id) is None
    assert look_up(runtime, buyer) is not None
    assert keys(runtime).find(buyer.key_id) is None


def test_a_process_whose_projector_waits_for_the_lock_keeps_nothing_and_still_sees_revocations(tmp_path: Path) -> None:
    """Two runtimes on one store stand in for two server processes; the first holds the projector lock."""
    with backend_settings("sqlite", tmp_path) as settings:
        active, waiting = Runtime(settings), Runtime(settings)
        keep_in_memory(active)
        keep_in_memory(waiting)
        try:
            cast: Cast = register_cast(active.marketplace)
            buyer = active.marketplace.issue_api_key(cast.buyer)
            active.start_embedded_projector()
            assert active.wait_for(buyer.position, timeout=10)
            waiting.start_embedded_projector()  # waits for the lock the first one holds
            time.sleep(0.1)

            assert look_up_until_kept(active, buyer) is not None
            assert look_up(waiting, buyer) is not None
            assert keys(waiting).find(buyer.key_id) is None

            revoked = waiting.marketplace.revoke_api_key(cast.buyer, buyer.key_id)
            assert waiting.wait_for(revoked.position, timeout=10)  # applied by the other process's projector

            assert keys(active).find(buyer.key_id) is None
            assert look_up(active, buyer) is None and look_up(waiting, buyer) is None
        finally:
            active.close()
            waiting.close()


# Through the HTTP API.


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    runtime = Runtime(api_settings(request.param, tmp_path, request))
    try:
        with TestClient(create_app(runtime=runtime), raise_server_exceptions=True) as client:
            yield Api(client, runtime)
    finally:
        runtime.close()


class Hammer:
    """Threads sending requests with one key until stopped, noting when each was sent and how it was answered."""

    def __init__(self, api: Api, key: str, threads: int = 4) -> None:
        self.api, self.headers = api, {"Authorization": f"Bearer {key}"}
        self.answers: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.perf_counter()
            status = self.api.client.get("/v1/me", headers=self.headers).status_code
            with self._lock:
                self.answers.append((sent, status))

    def sent_after(self, moment: float) -> list[int]:
        with self._lock:
            return [status for sent, status in self.answers if sent > moment]

    def wait_for(self, condition: Any, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the requests using the key stalled"
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def test_a_key_is_refused_as_soon_as_its_revocation_answers_even_while_requests_use_it(api: Api) -> None:
    operator = operator_party(api, OPERATOR_KEY)
    buyer: Party = register(operator, "buyer", "Botkyrkabyggen")
    runtime = api.runtime
    for round_no in range(20):
        issued = ok(buyer.post(f"/v1/organisations/{buyer.id}/api-keys"), 201)
        key, key_id = issued["api_key"], issued["key_id"]
        for _ in range(50):  # (a request just after the key reached the views is rightly not kept)
            assert ok(api.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}))["id"] == str(buyer.id)
            if keys(runtime).find(key_id) is not None:
                break
            time.sleep(0.002)
        assert keys(runtime).find(key_id) is not None, f"round {round_no}: the key is not served from memory"

        hammer = Hammer(api, key)
        try:
            hammer.wait_for(lambda h=hammer: h.sent_after(0).count(200) >= 4)  # in full swing
            deleted = buyer.delete(f"/v1/organisations/{buyer.id}/api-keys/{key_id}")
            answered = time.perf_counter()
            assert deleted.status_code == 204, deleted.text

            right_after = api.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
            assert right_after.status_code == 401, f"round {round_no}: the revoked key still worked"
            hammer.wait_for(lambda h=hammer, t=answered: len(h.sent_after(t)) >= 8)
        finally:
            hammer.stop()

        late = hammer.sent_after(answered)
        assert set(late) == {401}, f"round {round_no}: requests sent after the DELETE answered got {late}"
        assert set(hammer.sent_after(0)) <= {200, 401}
        assert keys(runtime).find(key_id) is None, f"round {round_no}: the revoked key is in memory"
        assert ok(buyer.get("/v1/me"))["id"] == str(buyer.id)  # the organisation's other key still works


def test_a_kept_key_id_with_the_wrong_secret_is_refused(api: Api) -> None:
    operator = operator_party(api, OPERATOR_KEY)
    buyer: Party = register(operator, "buyer", "Botkyrkabyggen")
    key_id = buyer.key.split("_")[1]
    for _ in range(50):
        assert ok(buyer.get("/v1/me"))["id"] == str(buyer.id)
        if keys(api.runtime).find(key_id) is not None:
            break
        time.sleep(0.002)
    assert keys(api.runtime).find(key_id) is not None
    forged = f"vk_{key_id}_{'x' * 43}"

    refused = api.client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert refused.status_code == 401
    assert ok(buyer.get("/v1/me"))["id"] == str(buyer.id)
