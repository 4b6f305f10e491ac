"""Erasing a person, on SQLite and PostgreSQL: before and after, through the API, the views, the export,
as-of replay and verification; and on SQLite, a search of every file's bytes under the data folder.

The person's name and email reach the events only sealed, so no file holds them
even before; what erasure removes is the key that opens them. The byte search
checks both: the plain text is never there, and the key's bytes are there before
and nowhere after.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Party, ok, payment_provider_confirms, place, publish, register_cast, schedule_body
from tests.api.test_people import LOOPBACK, OPERATOR, invite, join, new_browser, organisation, sign_in
from vardekedja.audit.log import export
from vardekedja.audit.replay import replay_views
from vardekedja.personal_data import is_sealed, sealed_subject
from vardekedja.projections.database import ViewDatabase
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.web import create_web_app

NAME = "Ebba Raderad-Lindqvist"
EMAIL = "ebba.raderad@example.se"


def files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and needle in path.read_bytes())  # fmt: skip


def exported(runtime: Runtime) -> str:
    out = io.StringIO()
    export(runtime.audited_log, out)
    return out.getvalue()


def sealed_values(text: str, person: UUID) -> list[str]:
    """The sealed strings in the exported events of the person's stream."""
    found = []
    for line in text.splitlines():
        event = json.loads(line).get("event")
        if event and event["stream_id"] == str(person):
            found += [value for value in event["data"].values() if is_sealed(value)]
    return found


def received_and_noted(browser: TestClient, runtime: Runtime) -> list[tuple[Party, str, dict[str, Any], str]]:
    """A delivery received by the person, and production notes naming them, each sent with an Idempotency-Key:
    the (party, path, body, key) of each, for repeating."""
    cast = register_cast(Api(browser, runtime), OPERATOR_KEY)
    design = publish(cast.designer)
    order = place(cast.buyer, (design["id"], 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    production = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["production_order_id"]
    production_path = f"/v1/production-orders/{production}"
    ok(cast.workshop.post(f"{production_path}/accept"))
    ok(cast.workshop.post(f"{production_path}/start"))
    sent = [(cast.workshop, f"{production_path}/complete", {"hours_worked": 3, "notes": f"{NAME} took it over"},
             "complete-1")]  # fmt: skip
    delivery = ok(cast.workshop.post(*sent[0][1:3], headers={"Idempotency-Key": sent[0][3]}))["delivery_id"]
    ok(cast.workshop.post(f"/v1/deliveries/{delivery}/schedule", json=schedule_body()))
    ok(cast.workshop.post(f"/v1/deliveries/{delivery}/dispatch"))
    sent.append((cast.workshop, f"/v1/deliveries/{delivery}/deliver", {"received_by": NAME}, "deliver-1"))
    assert ok(cast.workshop.post(*sent[1][1:3], headers={"Idempotency-Key": sent[1][3]}))["received_by"] == NAME
    return sent


def repeated(sent: list[tuple[Party, str, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Each request sent again with its key: the kept answers."""
    answers = []
    for party, path, body, key in sent:
        response = party.post(path, json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 200 and response.headers["Idempotent-Replayed"] == "true", response.text
        assert int(response.headers["Content-Length"]) == len(response.content)
        answers.append(response.json())
    return answers


@pytest.fixture
def browser(any_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_web_app(runtime=any_runtime), base_url=LOOPBACK) as client:
        yield client


def test_an_erased_person_shows_as_erased_everywhere_and_their_data_cannot_be_read(
        browser: TestClient, any_runtime: Runtime, tmp_path: Path) -> None:  # fmt: skip
    runtime, vault = any_runtime, any_runtime.personal_data
    buyer = organisation(browser)
    response = browser.post(f"/v1/organisations/{buyer}/people", headers=OPERATOR,
                            json={"name": NAME, "email": EMAIL, "language": "en"})  # fmt: skip
    person = UUID(response.json()["id"])
    ebba = new_browser(browser)
    assert join(ebba, response.json()["invite_url"]).status_code == 303
    colleague = invite(browser, buyer)  # someone who is not erased
    sent = received_and_noted(browser, runtime)  # kept by the idempotency store: sealed, as everywhere
    runtime.wait_for(runtime.marketplace.position)
    before_erasure = datetime.now(timezone.utc)
    key = vault._key(runtime.marketplace.person(person).subject, create=False)
    assert key is not None

    # Before: readable where it should be, sealed where it is stored.
    listed = browser.get(f"/v1/organisations/{buyer}/people", headers=OPERATOR).json()["items"]
    assert {item["email"] for item in listed} == {EMAIL, "anna.berg@example.se"}
    assert browser.get(f"/v1/people/{person}/data", headers=OPERATOR).json()["name"] == NAME
    log = exported(runtime)
    assert NAME not in log and EMAIL not in log
    sealed = sealed_values(log, person)
    assert sealed and {vault.open(value) for value in sealed} >= {NAME, EMAIL}
    assert browser.get("/v1/audit/verify", headers=OPERATOR).json()["ok"] is True
    notes, delivery = repeated(sent)
    assert (notes["notes"], delivery["received_by"]) == (f"{NAME} took it over", NAME)
    if not runtime.settings.uses_postgres:
        data_dir = runtime.settings.data_dir
        assert files_holding(data_dir, NAME.encode()) == files_holding(data_dir, EMAIL.encode()) == []
        assert files_holding(data_dir, key) and all(name.startswith("keys.sqlite3") for name in files_holding(data_dir, key))

    erased = browser.post(f"/v1/people/{person}/erase", headers=OPERATOR)

    assert erased.status_code == 200, erased.text
    assert (erased.json()["status"], erased.json()["name"], erased.json()["email"]) == ("erased", None, None)
    # The API: signed out at once, not a member, nothing readable, no sign-in.
    assert ebba.get("/v1/me").status_code == 401
    assert sign_in(new_browser(browser), email=EMAIL).status_code == 401
    listed = browser.get(f"/v1/organisations/{buyer}/people", headers=OPERATOR).json()["items"]
    assert [item["id"] for item in listed] == [colleague["id"]]
    held = browser.get(f"/v1/people/{person}/data", headers=OPERATOR).json()
    assert (held["status"], held["name"], held["email"], held["password_set"]) == ("erased", None, None, False)
    assert [event["type"] for event in held["events"]] == ["Invited", "Joined", "Erased"]
    # The views: the row keeps no sealed value either.
    with runtime.database.reader.connect() as views:
        row = runtime.view(PeopleView).person(views, person)
    assert row is not None and (row["status"], row["name"], row["email"], row["password_hash"]) == (
        "erased", None, None, None)
    # The export: the same sealed bytes (the chain covers them), which nothing can open now.
    log = exported(runtime)
    assert sealed_values(log, person) == sealed and {vault.open(value) for value in sealed} == {None}
    erased_event = next(json.loads(line)["event"] for line in log.splitlines()
                        if '"vardekedja:Person.Erased"' in line)  # fmt: skip
    assert not any(is_sealed(value) for value in erased_event["data"].values())
    # Verification passes after the erasure as before it.
    assert browser.get("/v1/audit/verify", headers=OPERATOR).json()["ok"] is True
    # As-of replay to before the erasure: the person was active then, and cannot be read.
    replay_views(runtime.marketplace, before_erasure, tmp_path / "as-of")
    replayed = ViewDatabase(Settings(data_dir=tmp_path / "as-of", database_url=None))
    with replayed.reader.connect() as views:
        then = PeopleView("people").person(views, person)
    replayed.dispose()
    assert then is not None and then["status"] == "active"
    assert vault.open(then["name"]) is None and vault.open(then["email"]) is None
    stream = browser.get(f"/v1/audit/streams/{person}", headers=OPERATOR,
                         params={"as_of": before_erasure.isoformat()}).json()  # fmt: skip
    assert (stream["state"]["status"], stream["state"]["name"], stream["state"]["email"]) == (
        "active", "(erased)", "(erased)")
    assert sealed_subject(sealed[0]) is not None
    # The kept answers repeat as before (the recipient and the notes are data subjects of their own), and
    # hold them sealed: once the recipient is erased, the repeat shows it as erased too.
    assert repeated(sent) == [notes, delivery]
    received_by = runtime.marketplace.delivery(UUID(delivery["id"])).received_by
    assert received_by is not None and (recipient := sealed_subject(received_by)) is not None
    vault.erase(recipient)
    assert [answer["received_by"] for answer in repeated(sent)[1:]] == [None]
    # On SQLite: not the plain text, and not the key, in any file under the data folder.
    if not runtime.settings.uses_postgres:
        data_dir = runtime.settings.data_dir
        assert files_holding(data_dir, NAME.encode()) == files_holding(data_dir, EMAIL.encode()) == []
        assert files_holding(data_dir, key) == []
    else:
        with vault.engine.connect() as connection:  # type: ignore[union-attr]
            keys = connection.execute(sa.text("SELECT key FROM personal_data_keys WHERE key IS NOT NULL")).all()
        assert key not in {bytes(row[0]) for row in keys}
