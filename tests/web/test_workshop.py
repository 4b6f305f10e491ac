"""The workshop's page: taking, making and delivering a piece, and the production files of what it holds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from uuid import UUID

from babel.dates import format_date
from fastapi.testclient import TestClient

from tests.api.support import SITE, Cast, design_body, ok, payment_provider_confirms, place
from tests.web.conftest import caught_up
from tests.web.test_media import upload
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime
from vardekedja.web.i18n import STOCKHOLM


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_workshop_takes_makes_and_delivers_a_piece(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body(title="Parkbänk Fittja")), 201)
    drawing = ok(upload(cast.designer, draft["id"], "production_file", "ritning.pdf", b"%PDF-1.7\n"), 201)
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    order = place(cast.buyer, (draft["id"], 2))
    payment_provider_confirms(cast.buyer.api, order["id"])
    caught_up(runtime)
    sign_in(client, cast.workshop)
    page = client.get("/workshop").text
    assert "Parkbänk Fittja × 2" in page and "Ta uppdraget" in page and "ritning.pdf" not in page
    [production] = re.findall(r'action="/workshop/production/([0-9a-f-]{36})/accept"', page)
    token = _token(page)

    def act(path: str, **fields: str) -> str:
        answer = client.post(path, data={"csrftoken": token, **fields})
        assert answer.status_code == 200, answer.text
        return answer.text

    page = act(f"/workshop/production/{production}/accept")
    assert f"/v1/designs/{draft['id']}/media/{drawing['id']}" in page  # the production file, now it is held
    act(f"/workshop/production/{production}/start")
    page = act(f"/workshop/production/{production}/complete", hours_worked="7,5", notes="slipad")
    [delivery] = re.findall(r'action="/workshop/deliveries/([0-9a-f-]{36})/schedule"', page)
    assert f"{SITE.name}, {SITE.street}, {SITE.postal_code} {SITE.municipality}" in page  # where to deliver
    day = (datetime.now(STOCKHOLM) + timedelta(days=7)).date()  # a window already over is refused
    page = act(f"/workshop/deliveries/{delivery}/schedule", earliest=f"{day}T08:00", latest=f"{day}T12:00")
    assert f"{format_date(day, 'd MMM y', locale='sv')} 08:00" in page  # shown in Swedish time, as entered
    act(f"/workshop/deliveries/{delivery}/dispatch")
    act(f"/workshop/deliveries/{delivery}/deliver", received_by="Vaktmästaren")
    assert runtime.marketplace.delivery(UUID(delivery)).status.value == "delivered"
    assert runtime.marketplace.production_order(UUID(production)).hours_worked == 7.5


def test_wrong_hours_are_refused_and_another_role_is_turned_away(client: TestClient, runtime: Runtime,
                                                                 cast: Cast) -> None:  # fmt: skip
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    order = place(cast.buyer, (draft["id"], 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    caught_up(runtime)
    sign_in(client, cast.workshop)
    page = client.get("/workshop").text
    [production] = re.findall(r'action="/workshop/production/([0-9a-f-]{36})/accept"', page)
    refused = client.post(f"/workshop/production/{production}/complete", data={"csrftoken": _token(page),
                                                                                "hours_worked": "många"})
    assert refused.status_code == 422 and "Skriv arbetade timmar" in refused.text
    sign_in(client, cast.buyer)
    assert client.get("/workshop").status_code == 403


def test_notes_are_optional_when_the_work_is_done(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    order = place(cast.buyer, (draft["id"], 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    caught_up(runtime)
    sign_in(client, cast.workshop)
    page = client.get("/workshop").text
    [production] = re.findall(r'action="/workshop/production/([0-9a-f-]{36})/accept"', page)
    for action in ("accept", "start"):
        page = client.post(f"/workshop/production/{production}/{action}", data={"csrftoken": _token(page)}).text
    form = page[page.index(f"/workshop/production/{production}/complete"):].split("</form>")[0]
    assert re.search(r'name="hours_worked"[^>]* required', form) and not re.search(r'name="notes"[^>]* required', form)
    done = client.post(f"/workshop/production/{production}/complete", data={"csrftoken": _token(page),
                                                                            "hours_worked": "3"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert runtime.marketplace.production_order(UUID(production)).hours_worked == 3
