"""Money: integer öre, a platform fee per unit and VAT per line, both rounded half-up."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.chain import SITE, published_design, register_cast, spec
from tests.unit.builders import placed_order
from tests.unit.builders import published_design as design_with
from vardekedja.application import Marketplace
from vardekedja.domain.money import DEFAULT_PLATFORM_FEE_RATE, parse_rate, price_line, round_half_up
from vardekedja.domain.order import LineRequest, Order
from vardekedja.projections.catalogue_search import largest_base


def price(royalty: int, production: int, installation: int = 0, *, quantity: int = 1, install: bool = True,
          rate: Fraction = DEFAULT_PLATFORM_FEE_RATE):
    return price_line(
        quantity=quantity,
        royalty_ore=royalty,
        production_fee_ore=production,
        installation_fee_ore=installation,
        install=install,
        platform_fee_rate=rate,
    )


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(0), 0),
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),
        (Fraction(49, 100), 0),
        (Fraction(51, 100), 1),
        (Fraction(2_499_999, 1_000_000), 2),
        (Fraction(7), 7),
    ],
)
def test_rounding_sends_halves_up_and_the_rest_to_the_nearest_ore(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded
    assert type(round_half_up(value)) is int


def test_negative_amounts_are_never_rounded() -> None:
    with pytest.raises(ValueError):
        round_half_up(Fraction(-1, 2))


def test_the_default_platform_fee_is_ten_percent() -> None:
    assert DEFAULT_PLATFORM_FEE_RATE == Fraction(1, 10)
    line = price(150_00, 4_200_00, 800_00)
    assert line.unit_platform_fee_ore == 515_00
    assert line.unit_price_ore == 150_00 + 4_200_00 + 800_00 + 515_00


@pytest.mark.parametrize(("base", "fee"), [(5, 1), (14, 1), (15, 2), (25, 3), (35, 4), (44, 4), (45, 5)])
def test_the_platform_fee_is_rounded_half_up_to_whole_ore(base: int, fee: int) -> None:
    assert price(base - 1, 1).unit_platform_fee_ore == fee


def test_the_platform_fee_is_rounded_per_unit_before_it_is_multiplied() -> None:
    line = price(4, 1, quantity=3)  # 0.5 öre per unit rounds to 1, so 3 units pay 3 (not round(1.5) = 2)

    assert line.unit_platform_fee_ore == 1
    assert line.platform_fee_ore == 3
    assert line.amount_ore == 3 * (4 + 1 + 1)


def test_the_installation_fee_is_left_out_when_installation_is_not_asked() -> None:
    with_install = price(150_00, 4_200_00, 800_00, install=True)
    without = price(150_00, 4_200_00, 800_00, install=False)

    assert without.installation_fee_ore == 0
    assert without.unit_platform_fee_ore == 435_00
    assert without.unit_price_ore == 150_00 + 4_200_00 + 435_00
    assert with_install.unit_price_ore - without.unit_price_ore == 800_00 + 80_00


@pytest.mark.parametrize(("amount", "vat"), [(2, 1), (4, 1), (6, 2), (10, 3), (14, 4), (566_500, 141_625)])
def test_vat_is_a_quarter_of_the_line_rounded_half_up(amount: int, vat: int) -> None:
    line = price(amount, 0, rate=Fraction(0))
    assert line.amount_ore == amount
    assert line.vat_ore == vat


def test_an_order_rounds_vat_per_line_and_totals_are_subtotal_plus_vat() -> None:
    tiny = design_with(specification=spec(royalty_ore=1, production_fee_ore=1, installation_fee_ore=0))

    order = placed_order((tiny, 1), (tiny, 1), (tiny, 3), install=False, rate=Fraction(0))

    assert [line.amount_ore for line in order.lines] == [2, 2, 6]
    assert [line.vat_ore for line in order.lines] == [1, 1, 2]  # 0.5, 0.5, 1.5 each round up
    assert order.subtotal_ore == 10
    assert order.vat_ore == 4  # not round_half_up(10 / 4) == 3
    assert order.total_ore == order.subtotal_ore + order.vat_ore == 14


def test_a_configurable_rate_such_as_an_eighth_is_applied_exactly() -> None:
    rate = parse_rate("0.125")
    assert rate == Fraction(1, 8)

    assert price(3, 1, rate=rate).unit_platform_fee_ore == 1  # 0.5
    assert price(11, 1, rate=rate).unit_platform_fee_ore == 2  # 1.5
    assert price(150_00, 4_200_00, 800_00, rate=rate).unit_platform_fee_ore == 643_75


@pytest.mark.parametrize("text", ["1.5", "-0.1", "ten"])
def test_a_rate_outside_zero_to_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_the_application_prices_orders_with_its_configured_rate(refunds) -> None:
    app = Marketplace({"PERSISTENCE_MODULE": "eventsourcing.popo"}, platform_fee_rate=Fraction("0.125"), payments=refunds)
    try:
        cast = register_cast(app)
        design_id = published_design(app, cast, spec(royalty_ore=3, production_fee_ore=1, installation_fee_ore=0))
        order_id = app.place_order(cast.buyer, SITE, False, [LineRequest(design_id, 2)]).id

        order = app.order(order_id)
        [line] = order.lines
        assert order.platform_fee_rate == Fraction(1, 8)
        assert line.unit_platform_fee_ore == 1 and line.unit_price_ore == 5 and line.amount_ore == 10
        [placed] = [e for e in app.repository.event_store.get(order_id) if isinstance(e, Order.Placed)]
        assert placed.platform_fee_rate == "1/8"
    finally:
        app.close()


def test_every_amount_on_a_priced_order_is_an_int() -> None:
    order = placed_order((design_with(), 3), (design_with(), 7))

    amounts = [order.subtotal_ore, order.vat_ore, order.total_ore, order.platform_fee_ore]
    for line in order.lines:
        amounts += [line.unit_price_ore, line.amount_ore, line.vat_ore, line.platform_fee_ore,
                    line.royalty_ore, line.production_fee_ore, line.installation_fee_ore]
    assert all(type(amount) is int for amount in amounts)


@given(
    royalty=st.integers(0, 10**9),
    production=st.integers(0, 10**9),
    installation=st.integers(0, 10**9),
    quantity=st.integers(1, 100),
    install=st.booleans(),
    rate=st.fractions(min_value=0, max_value=1, max_denominator=10_000),
)
def test_a_lines_parts_always_add_up_to_its_amount(royalty, production, installation, quantity, install, rate) -> None:
    line = price(royalty, production, installation, quantity=quantity, install=install, rate=rate)

    parts = (line.royalty_ore + line.production_fee_ore + line.installation_fee_ore) * quantity
    assert parts + line.platform_fee_ore == line.amount_ore
    assert line.installation_fee_ore == (installation if install else 0)
    assert abs(line.unit_platform_fee_ore - (royalty + production + line.installation_fee_ore) * rate) <= Fraction(1, 2)
    assert -2 < line.vat_ore * 4 - line.amount_ore <= 2  # within half an öre of a quarter, halves up
    assert all(type(v) is int for v in (line.unit_price_ore, line.amount_ore, line.vat_ore, line.platform_fee_ore))


@given(st.integers(min_value=-2, max_value=10**12),
       st.fractions(min_value=0, max_value=1, max_denominator=10_000))  # fmt: skip
def test_the_catalogue_price_bound_is_the_largest_base_whose_unit_price_fits(maximum: int, rate: Fraction) -> None:
    base = largest_base(maximum, rate)

    def price(amount: int) -> int:
        return amount + round_half_up(amount * rate)

    assert base == -1 or price(base) <= maximum
    assert base + 1 > maximum or price(base + 1) > maximum
