"""The operator registers organisations; each organisation holds API keys it can issue and revoke."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    POSITION,
    Api,
    Party,
    ok,
    operator_party,
    org_number,
    register,
)
from vardekedja.runtime import Runtime


@pytest.fixture
def api(client: TestClient, runtime: Runtime) -> Api:
    return Api(client, runtime)


@pytest.fixture
def operator(api: Api) -> Party:
    return operator_party(api, OPERATOR_KEY)


def organisation_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Fittja Snickeri", "role": "workshop", "org_number": org_number(), "municipality": "Botkyrka",
        "capabilities": ["Carpentry", "welding "], "service_area": ["Botkyrka", "huddinge"],
    }  # fmt: skip
    body.update(changes)
    return body


def test_the_operator_registers_an_organisation_and_its_one_time_key_works_at_once(api: Api, operator: Party) -> None:
    body = organisation_body(org_number="5560160680")
    response = operator.post("/v1/organisations", json=body)

    created = ok(response, 201)
    assert int(response.headers[POSITION]) == api.runtime.marketplace.position
    assert created["role"] == "workshop" and created["status"] == "active"
    assert created["org_number"] == "556016-0680"
    assert created["capabilities"] == ["carpentry", "welding"]
    assert created["service_area"] == ["botkyrka", "huddinge"]
    assert created["api_key"].startswith(f"vk_{created['key_id']}_")
    # No wait for the views: authentication catches up with a key issued a moment ago.
    me = api.client.get("/v1/me", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert ok(me)["id"] == created["id"]


def test_the_key_is_shown_once_and_never_again(api: Api, operator: Party) -> None:
    created = ok(operator.post("/v1/organisations", json=organisation_body()), 201)

    shown_again = ok(operator.get(f"/v1/organisations/{created['id']}"))

    assert "api_key" not in shown_again and "key_id" not in shown_again
    assert created["api_key"] not in operator.get(f"/v1/organisations/{created['id']}").text


def test_an_organisation_is_read_by_the_operator_auditors_and_itself_and_is_404_to_others(operator: Party) -> None:
    workshop = register(operator, "workshop", "Fittja Snickeri", capabilities=["welding"], service_area=["Botkyrka"])
    buyer = register(operator, "buyer", "Botkyrkabyggen")
    auditor = register(operator, "auditor", "Revisionsbyrån", municipality="Stockholm")

    assert ok(operator.get(f"/v1/organisations/{workshop.id}"))["name"] == "Fittja Snickeri"
    assert ok(workshop.get(f"/v1/organisations/{workshop.id}"))["id"] == str(workshop.id)
    assert ok(workshop.get("/v1/me"))["role"] == "workshop"
    assert buyer.get(f"/v1/organisations/{workshop.id}").status_code == 404
    assert ok(auditor.get(f"/v1/organisations/{workshop.id}"))["name"] == "Fittja Snickeri"  # auditors read all


def test_a_second_key_works_and_a_revoked_key_is_refused_as_soon_as_the_delete_answers(
    api: Api, operator: Party
) -> None:
    buyer = register(operator, "buyer", "Botkyrkabyggen")
    issued = ok(buyer.post(f"/v1/organisations/{buyer.id}/api-keys"), 201)
    second = {"Authorization": f"Bearer {issued['api_key']}"}
    assert ok(api.client.get("/v1/me", headers=second))["id"] == str(buyer.id)

    revoked = buyer.delete(f"/v1/organisations/{buyer.id}/api-keys/{issued['key_id']}")

    assert revoked.status_code == 204 and revoked.content == b""
    assert int(revoked.headers[POSITION]) == api.runtime.marketplace.position
    # Straight after the DELETE, with no Min-Position: the key is refused, the first key still works.
    refused = api.client.get("/v1/me", headers=second)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert ok(api.client.get("/v1/me", headers={"Authorization": f"Bearer {buyer.key}"}))["id"] == str(buyer.id)


def test_the_operator_revokes_an_organisations_key_and_it_stops_working_at_once(api: Api, operator: Party) -> None:
    designer = register(operator, "designer", "Studio Allmänning")
    key_id = designer.key.split("_")[1]

    assert operator.delete(f"/v1/organisations/{designer.id}/api-keys/{key_id}").status_code == 204

    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {designer.key}"}).status_code == 401
    assert api.client.post("/v1/designs", json={}, headers={"Authorization": f"Bearer {designer.key}"}
                           ).status_code == 401  # fmt: skip


def test_revoking_a_key_the_organisation_does_not_have_is_404(operator: Party) -> None:
    buyer = register(operator, "buyer", "Botkyrkabyggen")

    response = buyer.delete(f"/v1/organisations/{buyer.id}/api-keys/0123456789abcdef")

    assert response.status_code == 404


def test_an_organisation_cannot_manage_another_organisations_keys(operator: Party) -> None:
    buyer = register(operator, "buyer", "Botkyrkabyggen")
    other = register(operator, "buyer", "Huddinge Bostäder")
    key_id = other.key.split("_")[1]

    assert buyer.post(f"/v1/organisations/{other.id}/api-keys").status_code == 404
    assert buyer.delete(f"/v1/organisations/{other.id}/api-keys/{key_id}").status_code == 404
    assert ok(other.get("/v1/me"))["id"] == str(other.id)


def test_registering_an_organisation_number_twice_is_a_conflict(api: Api, operator: Party) -> None:
    number = org_number()
    ok(operator.post("/v1/organisations", json=organisation_body(org_number=number)), 201)
    before = api.runtime.marketplace.position

    again = operator.post("/v1/organisations", json=organisation_body(org_number=number.replace("-", ""),
                                                                      name="Another"))  # fmt: skip

    assert again.status_code == 409
    assert number in again.json()["detail"]
    assert api.runtime.marketplace.position == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"org_number": "556016-0681"}, "org_number"),  # the check digit is wrong
        ({"org_number": "55601606800"}, "org_number"),
        ({"role": "overlord"}, "role"),
        ({"capabilities": []}, "capabilities"),  # a workshop makes something
        ({"service_area": []}, "service_area"),  # and serves somewhere
        ({"name": "   "}, "name"),
    ],
)
def test_an_invalid_registration_is_refused_naming_the_field(
    api: Api, operator: Party, changes: dict[str, object], field: str
) -> None:
    before = api.runtime.marketplace.position

    response = operator.post("/v1/organisations", json=organisation_body(**changes))

    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]
    assert api.runtime.marketplace.position == before
