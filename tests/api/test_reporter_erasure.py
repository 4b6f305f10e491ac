"""Erasing a fault's reporter, on SQLite and PostgreSQL: the report's free text and contact details are sealed
under the reporter's own key; once it is deleted they read as erased through the API, the views, the export and
as-of replay, verification still passes, and on SQLite neither the text nor the key is in any file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.care_support import installed_pieces
from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, register_cast
from tests.api.test_erasure import exported, files_holding
from vardekedja.audit.replay import replay_views
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.personal_data import is_sealed, sealed_subject
from vardekedja.projections.care import CareView
from vardekedja.projections.database import ViewDatabase
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.web import create_web_app

TEXT = "Ribban vid Gunnel Reporterssons port är lös"
EMAIL = "gunnel.reportersson@example.se"
PHONE = "070-123 45 67"


@pytest.fixture
def cast(any_runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_web_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY)


def _sealed_in_stream(log: str, stream: str) -> list[str]:
    found = []
    for line in log.splitlines():
        event = json.loads(line).get("event")
        if event and event["stream_id"] == stream:
            data = event["data"]
            found += [value for value in (data.get("description"), *(data.get("contact") or {}).values())
                      if isinstance(value, str) and is_sealed(value)]  # fmt: skip
    return found


def test_an_erased_reporter_shows_as_erased_everywhere_and_their_report_cannot_be_read(
    cast: Cast, any_runtime: Runtime, tmp_path: Path,
) -> None:  # fmt: skip
    runtime, vault = any_runtime, any_runtime.personal_data
    (piece,) = installed_pieces(cast)
    sent = cast.buyer.api.client.post("/open311/v2/requests.json", data={
        "service_code": "damage", "description": TEXT, "attribute[asset]": piece["code"], "email": EMAIL,
        "phone": PHONE})  # fmt: skip
    assert sent.status_code == 201, sent.text
    order_id = sent.json()[0]["service_request_id"]
    other = runtime.marketplace.report_fault(UUID(piece["id"]), runtime.marketplace.maintenance_order(
        UUID(order_id)).service_code, "Someone else's report", contact={"email": "other@example.se"}).id
    cast.buyer.api.caught_up()
    path = f"/v1/maintenance-orders/{order_id}"

    # Before: readable to those who may read it, sealed where it is stored.
    before = ok(cast.area_company.get(path))
    assert before["description"] == TEXT and before["contact"]["email"] == EMAIL
    log = exported(runtime)
    assert TEXT not in log and EMAIL not in log and PHONE not in log
    sealed = _sealed_in_stream(log, order_id)
    assert len(sealed) == 3 and {vault.open(value) for value in sealed} == {TEXT, EMAIL, PHONE}
    key = vault._key(sealed_subject(sealed[0]), create=False)  # type: ignore[arg-type]
    assert key is not None
    before_erasure = datetime.now(timezone.utc)
    if not runtime.settings.uses_postgres:
        data_dir = runtime.settings.data_dir
        assert files_holding(data_dir, TEXT.encode()) == files_holding(data_dir, EMAIL.encode()) == []
        assert all(name.startswith("keys.sqlite3") for name in files_holding(data_dir, key))

    assert cast.area_company.post(f"{path}/reporter/erase").status_code == 403  # the operator's alone
    erased = cast.operator.post(f"{path}/reporter/erase")

    assert erased.status_code == 200, erased.text
    assert (erased.json()["description"], erased.json()["contact"]) == (None, None)
    assert cast.operator.post(f"{path}/reporter/erase").status_code == 409
    cast.buyer.api.caught_up()
    # The API, to everyone who could read it: nothing readable; the other report untouched.
    for party in (cast.area_company, cast.buyer, cast.operator, cast.auditor):
        seen = ok(party.get(path))
        assert (seen["description"], seen["contact"], seen["status"]) == (None, None, "open"), party.role
    assert ok(cast.area_company.get(f"/v1/maintenance-orders/{other}"))["contact"]["email"] == "other@example.se"
    # The view keeps no sealed value either.
    with runtime.database.reader.connect() as views:
        row = runtime.view(CareView).maintenance_order(views, UUID(order_id))
    assert row is not None and (row["description"], row["contact"]) == (None, None)
    # The export: the same sealed bytes (the chain covers them), which nothing can open now.
    log = exported(runtime)
    assert _sealed_in_stream(log, order_id) == sealed and {vault.open(value) for value in sealed} == {None}
    erasure = next(json.loads(line)["event"] for line in log.splitlines()
                   if '"vardekedja:MaintenanceOrder.ReporterErased"' in line)  # fmt: skip
    assert not any(isinstance(value, str) and is_sealed(value) for value in erasure["data"].values())
    assert ok(cast.operator.get("/v1/audit/verify"))["ok"] is True
    # As-of replay to before the erasure: the report was there then, and cannot be read.
    replay_views(runtime.marketplace, before_erasure, tmp_path / "as-of")
    replayed = ViewDatabase(Settings(data_dir=tmp_path / "as-of", database_url=None))
    with replayed.reader.connect() as views:
        then = CareView("care").maintenance_order(views, UUID(order_id))
    replayed.dispose()
    assert then is not None and vault.open(then["description"]) is None
    stream = ok(cast.operator.get(f"/v1/audit/streams/{order_id}", params={"as_of": before_erasure.isoformat()}))
    assert TEXT not in json.dumps(stream) and EMAIL not in json.dumps(stream)
    # On SQLite: not the text, and not the key, in any file under the data folder.
    if not runtime.settings.uses_postgres:
        assert files_holding(data_dir, TEXT.encode()) == files_holding(data_dir, EMAIL.encode()) == []
        assert files_holding(data_dir, key) == []
    else:
        with vault.engine.connect() as connection:  # type: ignore[union-attr]
            keys = connection.execute(sa.text("SELECT key FROM personal_data_keys WHERE key IS NOT NULL")).all()
        assert key not in {bytes(row[0]) for row in keys}


def test_an_inspection_has_no_reporter_to_erase(cast: Cast, any_runtime: Runtime) -> None:
    (piece,) = installed_pieces(cast)
    assert any_runtime.marketplace.open_inspections([(UUID(piece["id"]), 1)]) == 1
    cast.buyer.api.caught_up()
    (inspection,) = ok(cast.operator.get("/v1/maintenance-orders"))["items"]
    refused = cast.operator.post(f"/v1/maintenance-orders/{inspection['id']}/reporter/erase")
    assert refused.status_code == 422 and "inspection" in refused.text


def test_once_a_reporter_erasure_answered_no_other_process_opens_the_report(cast: Cast, any_runtime: Runtime) -> None:
    """A second runtime on the same store stands for another server or projector process that kept the key."""
    (piece,) = installed_pieces(cast)
    order = any_runtime.marketplace.report_fault(UUID(piece["id"]), ServiceCode.DAMAGE, TEXT, contact={"email": EMAIL})
    there = Runtime(any_runtime.settings)
    try:
        sealed = any_runtime.marketplace.maintenance_order(order.id).description
        assert there.personal_data.open(sealed) == TEXT  # the other process now keeps the key

        erased = cast.operator.post(f"/v1/maintenance-orders/{order.id}/reporter/erase")

        assert erased.status_code == 200, erased.text
        assert there.personal_data.open(sealed) is None
        with any_runtime.database.reader.connect() as views:  # the views dropped it before the answer, too
            row = any_runtime.view(CareView).maintenance_order(views, order.id)
        assert row is not None and (row["description"], row["contact"]) == (None, None)
    finally:
        there.close()
