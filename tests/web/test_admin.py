"""The operator's page, and commands run from pages: their position is the round's, so the next page shows them."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient

from tests.api.support import Cast, org_number
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime
from vardekedja.web.commands import run_command


def test_the_operator_registers_an_organisation_and_sees_its_key_once(client: TestClient, runtime: Runtime,
                                                                      cast: Cast) -> None:  # fmt: skip
    caught_up(runtime)
    sign_in(client, cast.operator)
    page = client.get("/admin", params={"lang": "en"}).text
    assert "Botkyrkabyggen" in page and "Projections" in page and "Catalogue" in page
    assert "Tillverkningsordrar</th>" in client.get("/admin", params={"lang": "sv"}).text  # views by their words
    token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    registered = client.post("/admin/organisations", data={
        "csrftoken": token, "name": "Alby Bostäder", "role": "buyer", "org_number": org_number(),
        "municipality": "Botkyrka", "capabilities": "", "service_area": ""})  # fmt: skip
    assert registered.status_code == 201 and registered.headers["cache-control"] == "no-store"
    key = re.search(r"<code>(vk_[^<]+)</code>", registered.text).group(1)  # type: ignore[union-attr]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["name"] == "Alby Bostäder"
    assert "Alby Bostäder</a></th>" in registered.text and key not in client.get("/admin").text
    refused = client.post("/admin/organisations", data={"csrftoken": token, "name": "", "role": "buyer",
                                                        "org_number": "12", "municipality": "Botkyrka"})
    assert refused.status_code == 422 and 'id="org_number-error"' in refused.text and 'id="name-error"' in refused.text
    sign_in(client, cast.auditor)
    assert client.get("/admin").status_code == 403


def test_a_command_from_a_page_knows_where_its_events_stand(runtime: Runtime, cast: Cast) -> None:
    done = asyncio.run(run_command(runtime, lambda app: app.issue_api_key(cast.buyer.id)))
    assert done.position == done.value.position == runtime.marketplace.position > 0
