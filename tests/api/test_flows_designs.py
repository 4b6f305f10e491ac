"""A designer drafts, revises, publishes and retires designs; everyone browses the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import POSITION, Api, Cast, design_body, ok, order_body, publish, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


@pytest.fixture
def any_cast(any_runtime: Runtime) -> Iterator[Cast]:
    """The cast on SQLite and on PostgreSQL, whose search and filters are written apart."""
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY)


def catalogue_ids(cast: Cast, **params: Any) -> list[str]:
    page = ok(cast.buyer.get("/v1/catalogue", params={"limit": 100, **params}))
    return [item["id"] for item in page["items"]]


def test_a_draft_is_revision_1_and_visible_only_to_its_designer(cast: Cast) -> None:
    response = cast.designer.post("/v1/designs", json=design_body())

    draft = ok(response, 201)
    assert int(response.headers[POSITION]) == cast.operator.api.runtime.marketplace.position
    assert draft["status"] == "draft" and draft["latest_revision"] == 1
    assert draft["published"] is None
    assert draft["draft"]["revision"] == 1 and draft["draft"]["title"] == "Parkbänk Fittja"
    assert ok(cast.designer.get(f"/v1/designs/{draft['id']}"))["draft"]["revision"] == 1
    for stranger in (cast.other_designer, cast.buyer, cast.workshop, cast.operator, cast.auditor):
        assert stranger.get(f"/v1/designs/{draft['id']}").status_code == 404, stranger.role
    assert draft["id"] not in catalogue_ids(cast)


def test_publishing_puts_the_revision_in_the_catalogue_for_everyone(cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)

    published = ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))

    assert published["status"] == "published"
    assert published["published"]["revision"] == 1 and published["draft"] is None
    # 150.00 + 4200.00 + 800.00 kr, plus the 10 % platform fee.
    assert published["published"]["unit_price_ore"] == 5_665_00
    assert published["published"]["unit_price_without_installation_ore"] == 4_785_00
    for reader in (cast.other_designer, cast.buyer, cast.workshop, cast.operator, cast.auditor):
        seen = ok(reader.get(f"/v1/designs/{draft['id']}"))
        assert seen["published"]["revision"] == 1 and seen["draft"] is None
    assert catalogue_ids(cast) == [draft["id"]]


def test_a_revision_after_publishing_is_revision_2_while_revision_1_stays_in_the_catalogue(cast: Cast) -> None:
    design = publish(cast.designer)
    path = f"/v1/designs/{design['id']}"

    revised = ok(cast.designer.put(path, json=design_body(title="Parkbänk Fittja II", royalty_ore=200_00)))

    assert revised["latest_revision"] == 2 and revised["status"] == "published"
    assert revised["published"]["revision"] == 1 and revised["draft"]["revision"] == 2
    assert revised["draft"]["title"] == "Parkbänk Fittja II"
    seen_by_buyer = ok(cast.buyer.get(path))
    assert seen_by_buyer["published"]["title"] == "Parkbänk Fittja" and seen_by_buyer["draft"] is None
    listed = ok(cast.buyer.get("/v1/catalogue"))["items"]
    assert [(item["id"], item["published"]["revision"]) for item in listed] == [(design["id"], 1)]
    ordered = ok(cast.buyer.post("/v1/orders", json=order_body((design["id"], 1))), 201)
    assert ordered["lines"][0]["revision"] == 1 and ordered["lines"][0]["royalty_ore"] == 150_00

    republished = ok(cast.designer.post(f"{path}/publish"))

    assert republished["published"]["revision"] == 2 and republished["draft"] is None
    listed = ok(cast.buyer.get("/v1/catalogue"))["items"]
    assert [(item["id"], item["published"]["title"]) for item in listed] == [(design["id"], "Parkbänk Fittja II")]
    # An order may still name revision 1; the first order keeps revision 1's prices forever.
    old = order_body((design["id"], 1))
    old["lines"][0]["revision"] = 1
    assert ok(cast.buyer.post("/v1/orders", json=old), 201)["lines"][0]["royalty_ore"] == 150_00
    assert ok(cast.buyer.get(f"/v1/orders/{ordered['id']}"))["lines"][0]["royalty_ore"] == 150_00


def test_a_draft_is_replaced_in_place_until_it_is_published(cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)

    revised = ok(cast.designer.put(f"/v1/designs/{draft['id']}", json=design_body(title="Bänk utan rygg")))

    assert revised["latest_revision"] == 1 and revised["draft"]["title"] == "Bänk utan rygg"
    assert revised["status"] == "draft"


def test_only_the_owning_designer_changes_a_design_and_others_learn_nothing(cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    path = f"/v1/designs/{draft['id']}"
    before = cast.operator.api.runtime.marketplace.position

    assert cast.other_designer.put(path, json=design_body()).status_code == 404
    assert cast.other_designer.post(f"{path}/publish").status_code == 404
    assert cast.other_designer.post(f"{path}/retire").status_code == 404
    assert cast.buyer.post(f"{path}/publish").status_code == 403
    assert cast.operator.api.runtime.marketplace.position == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"materials": []}, "materials"),
        ({"required_capabilities": []}, "required_capabilities"),
        ({"royalty_ore": 0, "production_fee_ore": 0}, "royalty_ore"),
    ],
)
def test_a_revision_missing_what_publishing_needs_cannot_be_published(
    cast: Cast, changes: dict[str, Any], field: str
) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body(**changes)), 201)

    response = cast.designer.post(f"/v1/designs/{draft['id']}/publish")

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert ok(cast.designer.get(f"/v1/designs/{draft['id']}"))["status"] == "draft"


def test_a_retired_design_leaves_the_catalogue_and_can_no_longer_be_ordered(cast: Cast) -> None:
    design = publish(cast.designer)
    path = f"/v1/designs/{design['id']}"

    retired = ok(cast.designer.post(f"{path}/retire"))

    assert retired["status"] == "retired"
    assert design["id"] not in catalogue_ids(cast)
    assert ok(cast.buyer.get(path))["status"] == "retired"
    refused = cast.buyer.post("/v1/orders", json=order_body((design["id"], 1)))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"].startswith("lines.0")
    assert "line 1" in refused.json()["detail"]
    assert cast.designer.put(path, json=design_body()).status_code == 409
    assert cast.designer.post(f"{path}/retire").status_code == 409


def test_the_catalogue_filters_by_words_category_material_capability_municipality_and_price(any_cast: Cast) -> None:
    cast = any_cast
    bench = publish(cast.designer)  # carpentry + welding, 5 665.00 kr a unit with installation
    planter = publish(cast.other_designer, title="Odlingslåda Alby", description="Raised bed in cast concrete",
                      category="Planter", materials=["Concrete"], required_capabilities=["concrete"],
                      royalty_ore=50_00, production_fee_ore=1_000_00, installation_fee_ore=200_00)
    pergola = publish(cast.designer, title="Pergola Hallunda", description="Larch pergola with milled joints",
                      category="pergola", materials=["larch"], required_capabilities=["carpentry", "cnc"],
                      royalty_ore=500_00, production_fee_ore=9_000_00, installation_fee_ore=3_000_00)  # fmt: skip
    ids = {"bench": bench["id"], "planter": planter["id"], "pergola": pergola["id"]}

    def found(**params: Any) -> set[str]:
        return {name for name, id_ in ids.items() if id_ in catalogue_ids(cast, **params)}

    assert found() == {"bench", "planter", "pergola"}
    assert found(q="pergola") == {"pergola"}
    assert found(q="concr") == {"planter"}  # words match by prefix
    assert found(q="Fittja") == {"bench"}
    assert found(category="planter") == {"planter"}
    assert found(material="CONCRETE") == {"planter"}
    assert found(material="steel") == {"bench"}
    assert found(capability="carpentry") == {"bench", "pergola"}
    # Only the Botkyrka workshop has a CNC mill; no workshop casts concrete.
    assert found(municipality="Botkyrka") == {"bench", "pergola"}
    assert found(municipality="Huddinge") == {"bench"}
    assert found(municipality="Solna") == set()
    assert found(max_unit_price_ore=5_665_00) == {"bench", "planter"}
    assert found(max_unit_price_ore=5_664_99) == {"planter"}
    assert found(capability="carpentry", max_unit_price_ore=10_000_00) == {"bench"}


def test_the_catalogue_pages_newest_first_with_a_cursor(cast: Cast) -> None:
    published = [publish(cast.designer, title=f"Bänk {n}")["id"] for n in range(5)]

    pages, cursor = [], None
    while True:
        page = ok(cast.buyer.get("/v1/catalogue", params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [published[4:2:-1], published[2:0:-1], published[:1]]
