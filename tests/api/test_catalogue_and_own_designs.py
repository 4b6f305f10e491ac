"""Finding designs: search over every word a design is described with, installation per municipality,
and a designer's own list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Cast, ok, order_body, publish, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime

# Described in Swedish; its materials and category are the only English words.
BENCH = {"title": "Parkbänk Fittja", "description": "En bänk med ryggstöd för gården", "category": "bench",
         "materials": ["oak", "steel"]}  # fmt: skip


@pytest.fixture
def cast(any_runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY)


def titles(party: Any, **params: Any) -> list[str]:
    page = ok(party.get("/v1/catalogue", params={"limit": 100, **params}))
    return [item["published"]["title"] for item in page["items"]]


def test_search_finds_a_design_by_its_materials_and_category(cast: Cast) -> None:
    publish(cast.designer, **BENCH)
    publish(cast.designer, title="Odlingslåda Alby", description="Upphöjd låda", category="planter",
            materials=["larch"])  # fmt: skip

    assert titles(cast.buyer, q="oak") == ["Parkbänk Fittja"]
    assert titles(cast.buyer, q="larch") == ["Odlingslåda Alby"]
    assert titles(cast.buyer, q="planter") == ["Odlingslåda Alby"]
    assert titles(cast.buyer, q="steel bench") == ["Parkbänk Fittja"]  # every word must match
    assert titles(cast.buyer, q="oak planter") == []


def test_search_meets_english_word_forms(cast: Cast) -> None:
    publish(cast.designer, **BENCH)

    assert titles(cast.buyer, q="benches") == ["Parkbänk Fittja"]
    assert titles(cast.buyer, q="oaks") == ["Parkbänk Fittja"]


@pytest.fixture
def postgres_cast(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cast]:
    runtime = Runtime(api_settings("postgres", tmp_path, request))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield register_cast(Api(client, runtime), OPERATOR_KEY)
    finally:
        runtime.close()


@pytest.mark.postgres
def test_search_meets_swedish_word_forms_on_postgresql(postgres_cast: Cast) -> None:
    # (SQLite's FTS5 has no Swedish stemmer: there Swedish words match as prefixes only.)
    publish(postgres_cast.designer, **BENCH)

    assert titles(postgres_cast.buyer, q="bänkarna") == ["Parkbänk Fittja"]  # bänk, in another form
    assert titles(postgres_cast.buyer, q="gårdarna") == ["Parkbänk Fittja"]


def test_the_catalogue_says_per_municipality_whether_installation_is_available(cast: Cast) -> None:
    # Workshops serve Botkyrka and Huddinge; the only area company serves Botkyrka.
    design = publish(cast.designer, **BENCH)
    with_installation = design["published"]["unit_price_ore"]
    without = design["published"]["unit_price_without_installation_ore"]

    botkyrka = ok(cast.buyer.get("/v1/catalogue", params={"municipality": "Botkyrka"}))["items"]
    huddinge = ok(cast.buyer.get("/v1/catalogue", params={"municipality": "huddinge "}))["items"]
    anywhere = ok(cast.buyer.get("/v1/catalogue"))["items"]

    assert [item["installation_available"] for item in botkyrka] == [True]
    assert [item["installation_available"] for item in huddinge] == [False]
    assert [item["installation_available"] for item in anywhere] == [None]
    # What the catalogue says is what ordering finds.
    refused = cast.buyer.post("/v1/orders", json=order_body((design["id"], 1), municipality="Huddinge"))
    assert refused.status_code == 422
    ok(cast.buyer.post("/v1/orders", json=order_body((design["id"], 1), install=False, municipality="Huddinge")), 201)
    assert without < with_installation


def test_filtering_by_installation_and_price_is_consistent_with_what_can_be_ordered(cast: Cast) -> None:
    design = publish(cast.designer, **BENCH)
    between = (design["published"]["unit_price_ore"] + design["published"]["unit_price_without_installation_ore"]) // 2

    assert titles(cast.buyer, municipality="Huddinge", install="true") == []
    assert titles(cast.buyer, municipality="Botkyrka", install="true") == ["Parkbänk Fittja"]
    # A price limit compares the price a buyer there would pay: with installation only where it is available.
    assert titles(cast.buyer, municipality="Huddinge", max_unit_price_ore=between) == ["Parkbänk Fittja"]
    assert titles(cast.buyer, municipality="Botkyrka", max_unit_price_ore=between) == []
    assert titles(cast.buyer, municipality="Botkyrka", install="false", max_unit_price_ore=between) == [
        "Parkbänk Fittja"
    ]


def test_installation_filter_needs_a_municipality(cast: Cast) -> None:
    refused = cast.buyer.get("/v1/catalogue", params={"install": "true"})

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "install"


def test_a_designer_lists_its_own_designs_with_drafts_newest_first(cast: Cast) -> None:
    published = publish(cast.designer, **BENCH)
    draft = ok(cast.designer.post("/v1/designs", json={**_body(), "title": "Pergola Hallunda"}), 201)
    publish(cast.other_designer, title="Någon annans bänk")

    listed = ok(cast.designer.get("/v1/designs"))
    first = ok(cast.designer.get("/v1/designs", params={"limit": 1}))
    second = ok(cast.designer.get("/v1/designs", params={"limit": 1, "cursor": first["next_cursor"]}))
    drafts = ok(cast.designer.get("/v1/designs", params={"status": "draft"}))

    assert [item["id"] for item in listed["items"]] == [draft["id"], published["id"]]
    assert listed["items"][0]["draft"]["title"] == "Pergola Hallunda" and listed["items"][0]["status"] == "draft"
    assert [item["id"] for item in first["items"] + second["items"]] == [draft["id"], published["id"]]
    assert second["next_cursor"] is None
    assert [item["id"] for item in drafts["items"]] == [draft["id"]]


def test_only_a_designer_lists_designs_and_is_told_where_else_to_look(cast: Cast) -> None:
    refused = cast.buyer.get("/v1/designs")

    assert refused.status_code == 403, refused.text
    assert "GET /v1/catalogue" in refused.json()["detail"]


def _body() -> dict[str, Any]:
    from tests.api.support import design_body

    return design_body()
