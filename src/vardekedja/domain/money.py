"""Money rules: every amount is an integer number of öre, never a float.

Rates are exact fractions (``Fraction("0.10")``), so that a rate read from a
setting such as ``0.125`` is applied without binary rounding, and every
rounding is half-up to whole öre, as the pricing rules ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

VAT_RATE = Fraction(25, 100)
DEFAULT_PLATFORM_FEE_RATE = Fraction(10, 100)


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact amount to whole öre, halves going up."""
    if value < 0:
        raise ValueError("amounts are never negative")
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def parse_rate(text: str) -> Fraction:
    """Read a rate such as ``"0.10"``; refuse anything outside 0–1."""
    rate = Fraction(text)
    if not 0 <= rate <= 1:
        raise ValueError(f"a rate lies between 0 and 1, not {text}")
    return rate


@dataclass(frozen=True, kw_only=True)
class LinePrice:
    """One order line priced at the moment the order is placed (an ``OrderLine`` is one, too)."""

    quantity: int
    royalty_ore: int
    production_fee_ore: int
    installation_fee_ore: int
    unit_platform_fee_ore: int

    @property
    def unit_price_ore(self) -> int:
        return (
            self.royalty_ore
            + self.production_fee_ore
            + self.installation_fee_ore
            + self.unit_platform_fee_ore
        )

    @property
    def amount_ore(self) -> int:
        return self.unit_price_ore * self.quantity

    @property
    def platform_fee_ore(self) -> int:
        return self.unit_platform_fee_ore * self.quantity

    @property
    def vat_ore(self) -> int:
        return round_half_up(self.amount_ore * VAT_RATE)


def price_line(
    *,
    quantity: int,
    royalty_ore: int,
    production_fee_ore: int,
    installation_fee_ore: int,
    install: bool,
    platform_fee_rate: Fraction,
) -> LinePrice:
    """Price one line: the platform fee is the rate applied to one unit's other parts."""
    installation = installation_fee_ore if install else 0
    base = royalty_ore + production_fee_ore + installation
    return LinePrice(
        quantity=quantity,
        royalty_ore=royalty_ore,
        production_fee_ore=production_fee_ore,
        installation_fee_ore=installation,
        unit_platform_fee_ore=round_half_up(base * platform_fee_rate),
    )
