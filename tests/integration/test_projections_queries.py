"""What the views answer: catalogue search and filters, the production queue, deliveries and payouts.

One marketplace per database with a known cast: three workshops whose
capabilities and areas differ, designs that only some of them can make, and
orders at every stage. Each test asks the views what the API would ask.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.chain import spec, window
from tests.conftest import RecordingRefunds, create_postgres_schema, drop_postgres_schema
from tests.unit.builders import org_number
from vardekedja.domain.money import price_line
from vardekedja.domain.order import DeliverySite, LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections.base import View
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.deliveries import DeliveriesView
from vardekedja.projections.orders import OrdersView
from vardekedja.projections.paging import Page
from vardekedja.projections.payouts import PayoutsView
from vardekedja.projections.production import ProductionView
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

RATE = Fraction(10, 100)


def site(municipality: str) -> DeliverySite:
    return DeliverySite(name="Gården", street="Torget 1", postal_code="145 51", municipality=municipality)


@dataclass
class Market:
    runtime: Runtime
    ids: dict[str, UUID] = field(default_factory=dict)
    prices: dict[str, int] = field(default_factory=dict)  # unit price with installation, per design

    def query(self, view: type[View], method: str, **kwargs: Any) -> Any:
        with self.runtime.database.reader.connect() as connection:
            return getattr(self.runtime.view(view), method)(connection, **kwargs)

    def catalogue(self, **filters: Any) -> set[str]:
        """The names of the designs a catalogue query finds (all pages)."""
        found = [row["id"] for row in pages(lambda cursor: self.query(
            CatalogueView, "search_published", fee_rate=RATE, limit=100, cursor=cursor, **filters))]  # fmt: skip
        names = {value: key for key, value in self.ids.items()}
        return {names[design_id] for design_id in found}


def pages(fetch: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following cursors; a page is never empty unless it is the only one."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page: Page = fetch(cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a next cursor has items"
        cursor = page.next_cursor
    raise AssertionError("the cursors never ended")


DESIGNS = {
    # name: (specification, published?)
    "bench": spec(),  # carpentry + welding, oak and steel
    "planter": spec(title="Planteringslåda Alby", description="Gjuten betong med sittkant", category="Planter",
                    materials=("Concrete",), required_capabilities=("concrete",), royalty_ore=2, production_fee_ore=3,
                    installation_fee_ore=0),
    "shelter": spec(title="Cykeltak Tumba", description="Laserskuret stål, för tolv cyklar", category="bike shelter",
                    materials=("steel",), required_capabilities=("CNC", "welding"), royalty_ore=10,
                    production_fee_ore=4, installation_fee_ore=1),
    "pergola": spec(title="Pergola Hallunda", description="Ek och frästa plåtdetaljer", category="pergola",
                    required_capabilities=("carpentry", "cnc"), royalty_ore=100_00, production_fee_ore=2_000_00),
    "table": spec(title="Picknickbord Fittja", description="Långbord i ek för gården", category="table",
                  materials=("oak",), required_capabilities=("carpentry",), royalty_ore=99_95,
                  production_fee_ore=1_000_00, installation_fee_ore=0),
}  # fmt: skip


def build(settings: Settings) -> Market:
    runtime = Runtime(settings, payments=RecordingRefunds())
    market = Market(runtime)
    app, ids = runtime.marketplace, market.ids

    def register(name: str, role: str, **extra: Any) -> None:
        ids[name] = app.register_organisation(name=name, role=role, org_number=org_number(700 + len(ids)),
                                              municipality="Botkyrka", **extra).organisation_id  # fmt: skip

    register("designer", "designer")
    register("carpenter", "workshop", capabilities=["Carpentry", "welding"], service_area=["Botkyrka", "Huddinge"])
    register("machinist", "workshop", capabilities=["cnc", "welding"], service_area=["Botkyrka"])
    register("caster", "workshop", capabilities=["concrete"], service_area=["Malmö"])
    register("area_company", "area_company", service_area=["Botkyrka"])
    register("buyer", "buyer")
    register("other_buyer", "buyer")
    for name, specification in DESIGNS.items():
        ids[name] = app.draft_design(ids["designer"], specification).id
        app.publish_design(ids["designer"], ids[name])
        market.prices[name] = price_line(
            quantity=1, royalty_ore=specification.royalty_ore, production_fee_ore=specification.production_fee_ore,
            installation_fee_ore=specification.installation_fee_ore, install=True, platform_fee_rate=RATE,
        ).unit_price_ore  # fmt: skip
    # Revised and published again: found by its new title only, listed where it first was.
    app.revise_design(ids["designer"], ids["table"], replace(DESIGNS["table"], title="Långbord Fittja"))
    app.publish_design(ids["designer"], ids["table"])
    ids["draft"] = app.draft_design(ids["designer"], spec(title="Parkbänk utkast")).id
    ids["retired"] = app.draft_design(ids["designer"], spec(title="Parkbänk gammal")).id
    app.publish_design(ids["designer"], ids["retired"])
    app.retire_design(ids["designer"], ids["retired"])

    def order(name: str, design: str, municipality: str = "Botkyrka", *, install: bool = True,
              pay: bool = True, buyer: str = "buyer", quantity: int = 2) -> UUID:  # fmt: skip
        order_id = ids[name] = app.place_order(ids[buyer], site(municipality), install,
                                               [LineRequest(ids[design], quantity)]).id  # fmt: skip
        if pay:
            app.record_payment(order_id, f"pi_{name}", app.order(order_id).total_ore, "sek")
            ids[f"{name}_po"] = production_order_id(order_id, 1)
        return order_id

    order("open_bench", "bench")  # the carpenter may take it
    order("open_shelter", "shelter")  # only the machinist has cnc and welding and serves Botkyrka
    order("huddinge_bench", "bench", "HUDDINGE ", install=False)  # the carpenter serves Huddinge
    order("malmo_planter", "planter", "Malmö", install=False)  # only the caster
    order("unpaid", "bench", pay=False)  # no production order yet
    order("others", "bench", buyer="other_buyer", quantity=1)
    order("released", "bench")
    app.accept_production(ids["carpenter"], ids["released_po"])
    app.release_production(ids["carpenter"], ids["released_po"], "maskinhaveri")  # open again

    # Held by the carpenter and taken all the way: delivered and installed.
    order("installed", "bench", quantity=3)
    app.accept_production(ids["carpenter"], ids["installed_po"])
    app.start_production(ids["carpenter"], ids["installed_po"])
    app.complete_production(ids["carpenter"], ids["installed_po"], 12.0, "oljad")
    ids["installed_delivery"] = delivery = app.delivery_for(ids["installed"], 1).id
    app.schedule_delivery(ids["carpenter"], delivery, *window())
    app.dispatch_delivery(ids["carpenter"], delivery)
    app.deliver(ids["carpenter"], delivery, "Vaktmästaren")
    app.install(ids["area_company"], delivery)
    # Accepted by the machinist, delivered without installation in Botkyrka.
    order("delivered", "shelter", install=False, quantity=5)
    app.accept_production(ids["machinist"], ids["delivered_po"])
    app.start_production(ids["machinist"], ids["delivered_po"])
    app.complete_production(ids["machinist"], ids["delivered_po"], 3.0, "")
    ids["delivered_delivery"] = delivery = app.delivery_for(ids["delivered"], 1).id
    app.schedule_delivery(ids["machinist"], delivery, *window())
    app.dispatch_delivery(ids["machinist"], delivery)
    app.fail_delivery(ids["machinist"], delivery, "stängd grind")
    app.schedule_delivery(ids["machinist"], delivery, *window())
    app.dispatch_delivery(ids["machinist"], delivery)
    app.deliver(ids["machinist"], delivery, "Husvärden")
    # Held by the machinist, still in progress.
    order("in_progress", "shelter")
    app.accept_production(ids["machinist"], ids["in_progress_po"])
    app.start_production(ids["machinist"], ids["in_progress_po"])

    runtime.projector.catch_up()
    return market


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def market(request):
    with tempfile.TemporaryDirectory() as folder:
        if request.param == "sqlite":
            built = build(Settings(data_dir=Path(folder)))
            yield built
            built.runtime.close()
            return
        url = request.getfixturevalue("postgres_url")
        schema = create_postgres_schema(url)
        try:
            built = build(Settings(data_dir=Path(folder), database_url=url, database_schema=schema))
            yield built
            built.runtime.close()
        finally:
            drop_postgres_schema(url, schema)


PUBLISHED = {"bench", "planter", "shelter", "pergola", "table"}


def test_the_catalogue_lists_published_designs_only(market):
    assert market.catalogue() == PUBLISHED


def test_full_text_search_matches_word_prefixes_and_every_word(market):
    assert market.catalogue(q="parkb") == {"bench"}
    assert market.catalogue(q="PARKBÄNK") == {"bench"}
    assert market.catalogue(q="fitt") == {"bench", "table"}
    assert market.catalogue(q="fittja parkb") == {"bench"}  # every word must match
    assert market.catalogue(q="fittja tumba") == set()
    assert market.catalogue(q="betong sitt") == {"planter"}  # words from the description
    assert market.catalogue(q="cykeltak, tolv!") == {"shelter"}  # punctuation is not syntax
    assert market.catalogue(q="långbord") == {"table"}  # the republished title
    assert market.catalogue(q="picknickbord") == set()  # the old one is gone
    assert market.catalogue(q="utkast") == market.catalogue(q="gammal") == set()  # draft, retired
    assert market.catalogue(q="   ") == PUBLISHED


def test_filters_by_category_material_and_capability_ignore_case_and_spaces(market):
    assert market.catalogue(category="bench") == {"bench"}
    assert market.catalogue(category=" Planter ") == {"planter"}
    assert market.catalogue(material="OAK") == {"bench", "pergola", "table"}
    assert market.catalogue(material="concrete") == {"planter"}
    assert market.catalogue(capability="cnc") == {"shelter", "pergola"}
    assert market.catalogue(capability="Welding", material="steel") == {"bench", "shelter"}
    assert market.catalogue(category="bench", material="concrete") == set()


def test_the_municipality_filter_keeps_designs_that_one_serving_workshop_can_make_alone(market):
    # The pergola needs carpentry and cnc: two workshops in Botkyrka have one each, none has both.
    assert market.catalogue(municipality="Botkyrka") == {"bench", "shelter", "table"}
    assert market.catalogue(municipality="huddinge") == {"bench", "table"}  # the machinist stays in Botkyrka
    assert market.catalogue(municipality="Malmö") == {"planter"}
    assert market.catalogue(municipality="Uppsala") == set()
    assert market.catalogue(municipality="Botkyrka", capability="cnc") == {"shelter"}


def test_max_unit_price_is_exact_at_the_boundary_of_the_rounded_platform_fee(market):
    # The planter's parts come to 5 öre and its fee to 0.5, rounded up to 1: a unit costs 6.
    assert market.prices["planter"] == 6
    assert market.prices["shelter"] == 15 + 2  # 1.5 rounds up
    for name, price in market.prices.items():
        assert name in market.catalogue(max_unit_price_ore=price)
        assert name not in market.catalogue(max_unit_price_ore=price - 1)
    assert market.catalogue(max_unit_price_ore=0) == set()
    # The catalogue's price is the price an order pays.
    order = market.runtime.marketplace.order(market.ids["open_shelter"])
    assert order.lines[0].unit_price_ore == market.prices["shelter"]


def test_cursor_pages_run_newest_first_without_duplicates_or_gaps(market):
    everything = market.query(CatalogueView, "search_published", fee_rate=RATE, limit=100).items
    listings = [row["listing"] for row in everything]
    assert listings == sorted(listings, reverse=True)
    for limit in (1, 2, 3):
        paged = pages(lambda cursor, limit=limit: market.query(
            CatalogueView, "search_published", fee_rate=RATE, limit=limit, cursor=cursor))  # fmt: skip
        assert [row["id"] for row in paged] == [row["id"] for row in everything]
    # Published first, listed first: the republished table keeps its place.
    order = [name for name in DESIGNS if name in PUBLISHED][::-1]
    assert [market.ids[name] for name in order] == [row["id"] for row in everything]
    filtered = pages(lambda cursor: market.query(CatalogueView, "search_published", fee_rate=RATE, limit=1,
                                                 material="oak", cursor=cursor))  # fmt: skip
    assert [row["id"] for row in filtered] == [market.ids[n] for n in ("table", "pergola", "bench")]


def test_the_production_queue_shows_a_workshop_what_it_may_take_and_what_it_holds(market):
    ids = market.ids

    def queue(workshop: str, **filters: Any) -> list[UUID]:
        return [row["id"] for row in pages(lambda cursor: market.query(
            ProductionView, "list", workshop_id=ids[workshop], limit=2, cursor=cursor, **filters))]  # fmt: skip

    def po(*names: str) -> list[UUID]:
        return [ids[f"{name}_po"] for name in names]

    # Newest first; eligible open orders and held ones, never another's or ineligible ones.
    assert queue("carpenter") == po("installed", "released", "others", "huddinge_bench", "open_bench")
    assert queue("machinist") == po("in_progress", "delivered", "open_shelter")
    assert queue("caster") == po("malmo_planter")
    assert queue("carpenter", status="open") == po("released", "others", "huddinge_bench", "open_bench")
    assert queue("machinist", status="open") == po("open_shelter")
    everything = pages(lambda cursor: market.query(ProductionView, "list", limit=3, cursor=cursor))
    assert len(everything) == 9
    view = market.runtime.view(ProductionView)
    with market.runtime.database.reader.connect() as connection:
        assert view.is_visible_to(connection, ids["open_bench_po"], ids["carpenter"])
        assert not view.is_visible_to(connection, ids["open_bench_po"], ids["machinist"])
        assert not view.is_visible_to(connection, ids["installed_po"], ids["machinist"])
        row = view.production_order(connection, ids["installed_po"])
    assert (row["status"], row["workshop_id"], row["delivery_id"]) == (
        "completed",
        ids["carpenter"],
        ids["installed_delivery"],
    )


def test_deliveries_are_listed_for_each_party_to_them(market):
    ids = market.ids

    def deliveries(party: str | None) -> list[UUID]:
        party_id = ids[party] if party else None
        return [row["id"] for row in pages(lambda cursor: market.query(
            DeliveriesView, "list", party_id=party_id, limit=1, cursor=cursor))]  # fmt: skip

    installed, delivered = ids["installed_delivery"], ids["delivered_delivery"]
    assert deliveries(None) == [delivered, installed]
    assert deliveries("carpenter") == [installed]
    assert deliveries("machinist") == [delivered]
    assert deliveries("area_company") == [installed]
    assert deliveries("buyer") == [delivered, installed]
    assert deliveries("other_buyer") == deliveries("caster") == deliveries("designer") == []
    with market.runtime.database.reader.connect() as connection:
        row = market.runtime.view(DeliveriesView).delivery(connection, delivered)
    assert (row["status"], row["failures"], row["area_company_id"]) == ("delivered", 1, None)
    assert "Husvärden" not in row["received_by"]  # the view keeps it sealed, as the event does
    assert market.runtime.personal_data.open(row["received_by"]) == "Husvärden"


def test_payouts_per_party_and_their_totals_add_up_to_the_money_paid(market):
    ids, app = market.ids, market.runtime.marketplace

    def payouts(party: str) -> list[dict[str, Any]]:
        return pages(lambda cursor: market.query(PayoutsView, "list", party_id=ids[party], limit=1, cursor=cursor))

    bench, shelter = DESIGNS["bench"], DESIGNS["shelter"]
    assert [row["amount_ore"] for row in payouts("designer")] == [5 * shelter.royalty_ore, 3 * bench.royalty_ore]
    assert [row["amount_ore"] for row in payouts("carpenter")] == [3 * bench.production_fee_ore]
    assert [row["amount_ore"] for row in payouts("machinist")] == [5 * shelter.production_fee_ore]
    assert [row["amount_ore"] for row in payouts("area_company")] == [3 * bench.installation_fee_ore]
    assert payouts("caster") == payouts("buyer") == []
    assert market.query(PayoutsView, "totals", party_id=ids["designer"]) == {
        "designer": 5 * shelter.royalty_ore + 3 * bench.royalty_ore
    }
    everyone = market.query(PayoutsView, "totals")
    assert sum(everyone.values()) == sum(row["amount_ore"] for row in pages(
        lambda cursor: market.query(PayoutsView, "list", limit=2, cursor=cursor)))  # fmt: skip
    # Payouts plus the platform fee are the amount paid ex VAT, to the öre.
    settled = [app.order(ids["installed"]), app.order(ids["delivered"])]
    assert sum(everyone.values()) + sum(o.platform_fee_ore for o in settled) == sum(o.subtotal_ore for o in settled)


def test_orders_are_listed_newest_first_for_their_buyer_only(market):
    ids = market.ids

    def listed(buyer: str | None, **filters: Any) -> list[UUID]:
        buyer_id = ids[buyer] if buyer else None
        return [row["id"] for row in pages(lambda cursor: market.query(
            OrdersView, "list", buyer_id=buyer_id, limit=2, cursor=cursor, **filters))]  # fmt: skip

    mine = ["in_progress", "delivered", "installed", "released", "unpaid", "malmo_planter", "huddinge_bench",
            "open_shelter", "open_bench"]  # fmt: skip
    assert listed("buyer") == [ids[name] for name in mine]
    assert listed("other_buyer") == [ids["others"]]
    assert listed(None, status="placed") == [ids["unpaid"]]
    assert listed("buyer", status="fulfilled") == [ids["delivered"], ids["installed"]]
    assert len(listed(None)) == len(mine) + 1


def test_a_page_fetched_after_new_publications_neither_repeats_nor_skips(market):
    first = market.query(CatalogueView, "search_published", fee_rate=RATE, limit=2)
    before = [row["id"] for row in market.query(CatalogueView, "search_published", fee_rate=RATE, limit=100).items]
    app, designer = market.runtime.marketplace, market.ids["designer"]
    news = app.draft_design(designer, spec(title="Nyhet")).id
    app.publish_design(designer, news)
    market.runtime.projector.catch_up()
    try:
        rest = pages(lambda cursor: market.query(CatalogueView, "search_published", fee_rate=RATE, limit=2,
                                                 cursor=cursor or first.next_cursor))  # fmt: skip
        assert [row["id"] for row in first.items + rest] == before
        newest = market.query(CatalogueView, "search_published", fee_rate=RATE, limit=1).items
        assert [row["id"] for row in newest] == [news]
    finally:  # leave the catalogue as the other tests expect it
        app.retire_design(designer, news)
        market.runtime.projector.catch_up()
