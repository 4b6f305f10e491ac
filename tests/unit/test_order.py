"""Placing an order: every line must be makeable where it goes, and its prices are frozen."""

from __future__ import annotations

from fractions import Fraction
from uuid import uuid4

import pytest

from tests.chain import BENCH, SITE, register_cast, spec
from tests.chain import published_design as publish_through
from tests.unit.builders import area_company, directory_of, organisation, published_design, workshop
from vardekedja.domain.design import Design
from vardekedja.domain.errors import (
    InvalidOrderError,
    NoAreaCompanyError,
    NoEligibleWorkshopError,
    NotOrderableError,
)
from vardekedja.domain.order import DeliverySite, LineRequest, Order, OrderStatus

TABLE = spec(title="Picknickbord", royalty_ore=99_00, production_fee_ore=2_000_00, installation_fee_ore=333_35,
             required_capabilities=("carpentry",))


def place(*requests: LineRequest, designs=(), directory=None, install: bool = True, site: DeliverySite = SITE) -> Order:
    by_id = {design.id: design for design in designs}
    return Order.place(
        buyer_id=uuid4(),
        delivery_site=site,
        install=install,
        lines=[(request, by_id.get(request.design_id)) for request in requests],
        directory=directory or directory_of(workshop(), area_company()),
        platform_fee_rate=Fraction(1, 10),
    )


def test_placing_an_order_freezes_each_lines_revision_and_prices() -> None:
    bench, table = published_design(specification=BENCH), published_design(specification=TABLE)
    directory = directory_of(workshop(), company := area_company())

    order = place(LineRequest(bench.id, 2), LineRequest(table.id, 5), designs=[bench, table], directory=directory)

    [placed] = order.collect_events()
    assert isinstance(placed, Order.Placed)
    assert placed.install is True and placed.area_company_id == company.id
    assert placed.delivery_site == SITE.to_dict() and placed.platform_fee_rate == "1/10"
    first, second = placed.lines
    assert (first["line_no"], first["design_id"], first["revision"], first["quantity"]) == (1, bench.id, 1, 2)
    assert (first["royalty_ore"], first["production_fee_ore"], first["installation_fee_ore"]) == (150_00, 4_200_00, 800_00)
    assert first["unit_platform_fee_ore"] == 515_00 and first["designer_id"] == bench.designer_id
    assert (second["line_no"], second["title"], second["required_capabilities"]) == (2, "Picknickbord", ["carpentry"])
    assert second["unit_platform_fee_ore"] == 24_324  # 10 % of 2432.35 kr is 243.235 kr, rounded half-up
    assert order.status is OrderStatus.PLACED


@pytest.mark.parametrize("quantity", [1, 100])
def test_a_quantity_from_one_to_a_hundred_is_accepted(quantity: int) -> None:
    bench = published_design()
    order = place(LineRequest(bench.id, quantity), designs=[bench])
    assert order.lines[0].quantity == quantity


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_a_quantity_outside_one_to_a_hundred_is_refused_naming_the_line(quantity: int) -> None:
    bench = published_design()

    with pytest.raises(InvalidOrderError, match="line 2") as refused:
        place(LineRequest(bench.id, 1), LineRequest(bench.id, quantity), designs=[bench])
    assert refused.value.field == "lines.1.quantity"


def test_an_order_needs_at_least_one_line() -> None:
    with pytest.raises(InvalidOrderError) as refused:
        place()
    assert refused.value.field == "lines"


def test_an_order_has_at_most_a_hundred_lines() -> None:
    bench = published_design()

    assert len(place(*[LineRequest(bench.id, 1)] * 100, designs=[bench]).lines) == 100
    with pytest.raises(InvalidOrderError) as refused:
        place(*[LineRequest(bench.id, 1)] * 101, designs=[bench])
    assert refused.value.field == "lines"


def test_a_delivery_site_needs_every_part_of_its_address() -> None:
    bench = published_design()
    site = DeliverySite(name="Gården", street=" ", postal_code="145 51", municipality="Botkyrka")

    with pytest.raises(InvalidOrderError) as refused:
        place(LineRequest(bench.id, 1), designs=[bench], site=site)
    assert refused.value.field == "delivery_site.street"


@pytest.mark.parametrize("companies", [[], [("Huddinge",)]], ids=["none", "elsewhere"])
def test_installation_needs_an_area_company_serving_the_municipality(companies) -> None:
    bench = published_design()
    directory = directory_of(workshop(), *(area_company(area) for area in companies))

    with pytest.raises(NoAreaCompanyError, match="Botkyrka") as refused:
        place(LineRequest(bench.id, 1), designs=[bench], directory=directory)
    assert refused.value.field == "install"

    without = place(LineRequest(bench.id, 1), designs=[bench], directory=directory, install=False)
    assert without.area_company_id is None and without.lines[0].installation_fee_ore == 0


@pytest.mark.parametrize(
    "makers",
    [
        lambda: [workshop(capabilities=("carpentry",))],
        lambda: [workshop(service_area=("Huddinge",))],
        lambda: [organisation("area_company", capabilities=("carpentry", "welding"), service_area=("Botkyrka",))],
        lambda: [workshop(capabilities=("welding",)), workshop(capabilities=("carpentry",))],
    ],
    ids=["lacks-a-capability", "serves-elsewhere", "not-a-workshop", "capabilities-split-over-two"],
)
def test_every_line_needs_one_workshop_that_can_make_it_where_it_goes(makers) -> None:
    table, bench = published_design(specification=TABLE), published_design()
    directory = directory_of(workshop(capabilities=("carpentry",)), area_company(), *makers())

    with pytest.raises(NoEligibleWorkshopError, match="line 2") as refused:
        place(LineRequest(table.id, 1), LineRequest(bench.id, 1), designs=[table, bench], directory=directory)
    assert refused.value.field == "lines.1.design_id"


def test_capabilities_and_municipalities_match_without_regard_to_case() -> None:
    bench = published_design(specification=spec(required_capabilities=("CARPENTRY", "Welding")))
    site = DeliverySite(name="Gården", street="Fittja torg 1", postal_code="145 51", municipality=" botkyrka ")
    directory = directory_of(workshop(capabilities=("Carpentry", "welding"), service_area=("BOTKYRKA",)),
                             area_company(service_area=("Botkyrka",)))

    order = place(LineRequest(bench.id, 1), designs=[bench], directory=directory, site=site)

    assert order.lines[0].required_capabilities == ("carpentry", "welding")


def test_an_older_published_revision_can_be_ordered_at_its_own_prices() -> None:
    bench = published_design()
    bench.revise(bench.designer_id, spec(title="Parkbänk Fittja II", royalty_ore=300_00))
    bench.publish(bench.designer_id)

    order = place(LineRequest(bench.id, 1, revision=1), LineRequest(bench.id, 1), designs=[bench])

    old, new = order.lines
    assert (old.revision, old.title, old.royalty_ore) == (1, BENCH.title, 150_00)
    assert (new.revision, new.title, new.royalty_ore) == (2, "Parkbänk Fittja II", 300_00)
    assert old.unit_price_ore < new.unit_price_ore


@pytest.mark.parametrize("revision", [None, 1])
def test_an_unpublished_draft_cannot_be_ordered_and_is_refused_exactly_like_an_unknown_design(revision) -> None:
    draft = Design.draft(uuid4(), BENCH)

    with pytest.raises(NotOrderableError) as refused:
        place(LineRequest(draft.id, 1, revision=revision), designs=[draft])
    assert refused.value.field == "lines.0.design_id"
    assert str(refused.value) == f"line 1: no published design {draft.id}"


def test_the_open_draft_after_a_publish_cannot_be_ordered_by_number() -> None:
    bench = published_design()
    bench.revise(bench.designer_id, spec(royalty_ore=1_00))

    with pytest.raises(NotOrderableError, match="revision 2"):
        place(LineRequest(bench.id, 1, revision=2), designs=[bench])
    assert place(LineRequest(bench.id, 1), designs=[bench]).lines[0].revision == 1


def test_a_retired_design_cannot_be_ordered() -> None:
    bench = published_design()
    bench.retire(bench.designer_id)

    with pytest.raises(NotOrderableError, match="retired") as refused:
        place(LineRequest(bench.id, 1), designs=[bench])
    assert refused.value.field == "lines.0.revision"


def test_an_unknown_design_cannot_be_ordered() -> None:
    with pytest.raises(NotOrderableError) as refused:
        place(LineRequest(uuid4(), 1))
    assert refused.value.field == "lines.0.design_id"


def test_ordering_a_retired_or_unknown_design_through_the_application_writes_nothing(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = publish_through(app, cast)
    app.retire_design(cast.designer, design_id)
    before = app.recorder.max_notification_id()

    with pytest.raises(NotOrderableError) as retired:
        app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)])
    with pytest.raises(NotOrderableError) as unknown:
        app.place_order(cast.buyer, SITE, True, [LineRequest(uuid4(), 1)])
    assert (retired.value.field, unknown.value.field) == ("lines.0.revision", "lines.0.design_id")
    assert app.recorder.max_notification_id() == before


def test_a_refused_order_writes_nothing(memory_marketplace) -> None:
    cast = register_cast(memory_marketplace)
    design_id = publish_through(memory_marketplace, cast)
    before = memory_marketplace.recorder.max_notification_id()

    with pytest.raises(InvalidOrderError):
        memory_marketplace.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 101)])
    assert memory_marketplace.recorder.max_notification_id() == before


def test_an_order_keeps_its_prices_when_the_design_is_revised_later(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = publish_through(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 3)]).id
    before = app.order(order_id)

    app.revise_design(cast.designer, design_id, spec(royalty_ore=999_00, production_fee_ore=1_00))
    app.publish_design(cast.designer, design_id)

    after = app.order(order_id)
    assert after.lines == before.lines
    assert (after.lines[0].revision, after.lines[0].royalty_ore) == (1, 150_00)
    assert after.total_ore == before.total_ore
    assert app.design(design_id).orderable_revision(None)[1].royalty_ore == 999_00
