"""What a person reads in the API's answers: error titles and details, links, the audit log's data.

Titles match the status; details are sentences about this case that name roles
as people say them ("an area company"), never storage encodings or class names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, payment_provider_confirms, place, publish, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=runtime)) as client:
        yield register_cast(Api(client, runtime), OPERATOR_KEY)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()  # type: ignore[no-any-return]


def test_a_wrong_role_is_told_in_words_with_the_article_that_fits(cast: Cast) -> None:
    refused = problem(cast.auditor.post("/v1/designs", json={}), 403)
    area = problem(cast.area_company.get("/v1/orders"), 403)

    assert refused["title"] == "Not allowed for your role"
    assert "only a designer may do this" in refused["detail"] and "is an auditor" in refused["detail"]
    assert "a auditor" not in refused["detail"]
    assert "area_company" not in area["detail"] and "an area company" in area["detail"]
    assert "deliveries" in area["detail"]  # where it finds what it needs instead


def test_the_sibling_role_messages_read_as_sentences_too(cast: Cast) -> None:
    production = problem(cast.area_company.get("/v1/production-orders"), 403)
    deliveries = problem(cast.designer.get("/v1/deliveries"), 403)
    registered = problem(cast.operator.post("/v1/organisations", json={
        "name": "Alby Områdesbolag", "role": "area_company", "org_number": "556074-3089", "municipality": "Botkyrka",
    }), 422)  # fmt: skip

    assert "an area company" in production["detail"]
    assert "is a designer, which is party to no delivery" in deliveries["detail"]
    assert registered["detail"] == "an area company needs a service area"


def test_an_ineligible_workshop_accepting_gets_a_not_found_that_says_not_found(cast: Cast) -> None:
    # A design that needs concrete: neither workshop can make it, so nobody may accept its production order.
    design = publish(cast.designer, required_capabilities=["carpentry"])
    order = place(cast.buyer, (design["id"], 1))
    payment_provider_confirms(cast.operator.api, order["id"])
    production_id = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["production_order_id"]
    stranger = cast.operator.api.runtime.marketplace.register_organisation(
        name="Handen Smide", role="workshop", org_number="556012-5790", municipality="Haninge",
        capabilities=["welding"], service_area=["Haninge"],
    )  # fmt: skip
    cast.operator.api.saw(stranger.position)

    refused = cast.operator.api.request("POST", f"/v1/production-orders/{production_id}/accept", stranger.api_key)

    body = problem(refused, 404)
    assert body["title"] == "Not found"
    assert body["detail"].startswith(f"there is no production order {production_id} that you may accept")


def test_another_designers_change_is_a_not_found_naming_the_design(cast: Cast) -> None:
    design = publish(cast.designer)

    body = problem(cast.other_designer.post(f"/v1/designs/{design['id']}/retire"), 404)

    assert body["title"] == "Not found"
    assert body["detail"].startswith(f"there is no design {design['id']} that you may retire")


def test_unknown_paths_and_methods_say_what_there_is(cast: Cast) -> None:
    missing = problem(cast.buyer.get("/v1/nothing-here"), 404)
    wrong_method = problem(cast.buyer.delete("/v1/catalogue"), 405)

    assert missing["detail"] != "Not Found" and "/v1/nothing-here" in missing["detail"]
    assert wrong_method["title"] == "Method not allowed"
    assert "DELETE" in wrong_method["detail"] and "GET" in wrong_method["detail"]


def test_every_title_reads_as_words_not_as_a_status_phrase(cast: Cast) -> None:
    unauthenticated = problem(cast.operator.api.client.get("/v1/me"), 401)
    invalid = problem(cast.designer.post("/v1/designs", json={"title": ""}), 422)

    assert unauthenticated["title"] == "API key needed"
    assert invalid["title"] == "Invalid input"


def test_payouts_totals_follow_the_order_filter(cast: Cast) -> None:
    api = cast.operator.api
    design = publish(cast.designer)
    first, second = place(cast.buyer, (design["id"], 1)), place(cast.buyer, (design["id"], 2))
    for order in (first, second):
        payment_provider_confirms(api, order["id"])
        _deliver(api, cast, order["id"])

    for party in (cast.operator, cast.designer):
        filtered = ok(party.get("/v1/payouts", params={"order_id": first["id"], "limit": 100}))
        assert {item["order_id"] for item in filtered["items"]} == {first["id"]}
        sums: dict[str, int] = {}
        for item in filtered["items"]:
            sums[item["role"]] = sums.get(item["role"], 0) + item["amount_ore"]
        assert filtered["totals_ore"] == sums


def _deliver(api: Api, cast: Cast, order_id: str) -> None:
    marketplace = api.runtime.marketplace
    from tests.chain import window
    from vardekedja.domain.production import production_order_id

    production = production_order_id(UUID(order_id), 1)
    marketplace.accept_production(cast.workshop.id, production)
    marketplace.start_production(cast.workshop.id, production)
    marketplace.complete_production(cast.workshop.id, production, 3.0, "")
    delivery = marketplace.delivery_for(UUID(order_id), 1).id
    marketplace.schedule_delivery(cast.workshop.id, delivery, *window())
    marketplace.dispatch_delivery(cast.workshop.id, delivery)
    api.saw(marketplace.deliver(cast.workshop.id, delivery, "Leyla").position)


def test_the_audit_log_answers_plain_json_without_the_storage_encoding(cast: Cast) -> None:
    design = publish(cast.designer)
    order = place(cast.buyer, (design["id"], 1))

    events = ok(cast.auditor.get("/v1/audit/events", params={"limit": 1000}))["items"]
    stream = ok(cast.auditor.get(f"/v1/audit/streams/{order['id']}"))

    for text in (str(events), str(stream)):
        assert "_type_" not in text and "_data_" not in text
    placed = stream["events"][0]["data"]
    assert placed["buyer_id"] == str(cast.buyer.id)  # a UUID as people write it
    assert placed["timestamp"] == stream["events"][0]["time"]


def test_the_public_base_url_setting_makes_links_absolute() -> None:
    from vardekedja.settings import Settings

    configured = Settings(public_base_url="https://marknad.example.se/")
    unset = Settings(public_base_url=None)

    assert configured.public_url("/pay/1#s", "http://127.0.0.1:8000/") == "https://marknad.example.se/pay/1#s"
    assert unset.public_url("/pay/1#s", "http://127.0.0.1:8000/") == "http://127.0.0.1:8000/pay/1#s"


def test_the_order_timeline_tells_what_happened_in_sentences_naming_the_parties(cast: Cast) -> None:
    api = cast.operator.api
    design = publish(cast.designer, title="Parkbänk Fittja")
    order = place(cast.buyer, (design["id"], 1))
    payment_provider_confirms(api, order["id"])
    _deliver(api, cast, order["id"])

    entries = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["timeline"]

    kinds = [entry["kind"] for entry in entries]
    assert kinds[:3] == ["placed", "checkout_started", "paid"]
    for kind in ("production_opened", "production_accepted", "production_started", "production_completed",
                 "delivery_opened", "delivery_scheduled", "delivery_dispatched", "delivered", "line_delivered"):
        assert kind in kinds, kinds
    by_kind = {entry["kind"]: entry for entry in entries}
    accepted = by_kind["production_accepted"]
    assert accepted["summary"] == "Fittja Snickeri took line 1"
    assert accepted["parties"] == [{"id": str(cast.workshop.id), "name": "Fittja Snickeri", "role": "workshop"}]
    assert by_kind["placed"]["summary"].startswith("Botkyrkabyggen placed the order: 1 line with installation, SEK ")
    assert "(Stockholm time)" in by_kind["delivery_scheduled"]["summary"]
    for entry in entries:  # no class names, no ids in what a person reads
        text = entry["summary"] + str(entry["detail"])
        assert "Order." not in text and "Production" not in entry["kind"] and "_id" not in str(entry["detail"])
        for party in (cast.workshop, cast.buyer, cast.area_company):
            assert str(party.id) not in entry["summary"] and str(party.id) not in str(entry["detail"])
        assert "event" not in entry
    # Who received the piece is personal data, stored sealed: the delivery shows it opened, the timeline not at all.
    assert by_kind["delivered"]["detail"] == {} and "pd1." not in str(entries)


def test_readiness_says_which_database_does_not_answer_without_naming_an_exception_class(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*_args: Any) -> int:
        raise OSError("disk on fire")

    with TestClient(create_app(runtime=runtime)) as client:
        monkeypatch.setattr(runtime.database, "processed", fails)
        body = problem(client.get("/readyz"), 503)

    assert body["detail"].startswith("the views' database does not answer")
    assert "OSError" not in body["detail"] and "Error" not in body["detail"]
