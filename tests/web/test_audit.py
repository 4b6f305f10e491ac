"""The auditor's pages: the event log, verification, and a stream as it stood at a time."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from babel.dates import format_date
from fastapi.testclient import TestClient

from tests.api.support import Cast, design_body, ok, schedule_body
from tests.api.test_fulfilment_sites import paid
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime
from vardekedja.web.i18n import STOCKHOLM


def test_the_auditor_reads_the_log_verifies_it_and_sees_a_stream_as_of_a_time(client: TestClient, runtime: Runtime,
                                                                              cast: Cast) -> None:  # fmt: skip
    draft = ok(cast.designer.post("/v1/designs", json=design_body(title="Bänk A")), 201)
    before_revision = datetime.now(STOCKHOLM)
    ok(cast.designer.put(f"/v1/designs/{draft['id']}", json=design_body(title="Bänk B")))
    runtime.wait_for(runtime.marketplace.position, 5.0)
    caught_up(runtime)
    sign_in(client, cast.auditor)
    log = client.get("/audit", params={"lang": "en"}).text
    assert "Design.Drafted" in log and f"/audit/streams/{draft['id']}" in log
    verified = client.get("/audit/verify").text
    assert "The log holds together" in verified
    now = client.get(f"/audit/streams/{draft['id']}").text
    assert "Bänk B" in now and "State at version 2" in now
    then = client.get(f"/audit/streams/{draft['id']}",
                      params={"as_of": before_revision.replace(tzinfo=None).isoformat()})
    assert then.status_code == 200 and "State at version 1" in then.text
    assert client.get(f"/audit/streams/{UUID(int=7)}").status_code == 404
    assert client.get(f"/audit/streams/{draft['id']}", params={"as_of": "igår"}).status_code == 422
    sign_in(client, cast.buyer)
    assert client.get("/audit").status_code == 403


def test_event_times_are_shown_in_swedish_time_to_the_second(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body(title="Bänk A")), 201)
    caught_up(runtime)
    sign_in(client, cast.auditor)
    [event] = ok(cast.auditor.get(f"/v1/audit/streams/{draft['id']}"))["events"]
    shown = datetime.fromisoformat(event["time"]).astimezone(STOCKHOLM).strftime("%H:%M:%S")
    stream = client.get(f"/audit/streams/{draft['id']}").text
    assert shown in stream and 'type="datetime-local" step="1"' in stream  # a time can be given to the second
    log = client.get("/audit", params={"after": event.get("position") or 0}).text
    assert f'<time datetime="{event["time"]}">' in stream and shown in log
    assert "Formgivning påbörjad" in log and "Design.Drafted" in log  # in words, beside the stored name


def test_times_in_a_streams_state_are_shown_in_swedish_time_not_as_stored_text(client: TestClient, runtime: Runtime,
                                                                              cast: Cast) -> None:  # fmt: skip
    _, production = paid(cast)
    for step in ("accept", "start"):
        ok(cast.workshop.post(f"/v1/production-orders/{production}/{step}"))
    done = ok(cast.workshop.post(f"/v1/production-orders/{production}/complete", json={"hours_worked": 4, "notes": ""}))
    window = schedule_body()
    ok(cast.workshop.post(f"/v1/deliveries/{done['delivery_id']}/schedule", json=window))
    caught_up(runtime)
    sign_in(client, cast.auditor)

    page = client.get(f"/audit/streams/{done['delivery_id']}").text

    earliest = datetime.fromisoformat(window["earliest"]).astimezone(STOCKHOLM)
    assert f'<time datetime="{window["earliest"]}">' in page
    assert f"{format_date(earliest, 'd MMM y', locale='sv')} {earliest:%H:%M:%S}" in page
    shown = re.sub(r'<[^>]*>', " ", page)  # the text a reader sees, without attributes
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", shown), "a time left as stored text"
