"""The impact fold: events in, facts out. One fold for the projector's view and for an export's recomputation.

A fact is one measured contribution at one moment: money paid for an order
(ex VAT), money owed to a party, hours worked, grams of CO₂e, a dispatch.
Every value is an integer (öre, milli-hours, grams), so sums are exact and the
view and a recomputation agree exactly. A party is local to an order when its
registered municipality is the delivery site's.

What the fold must remember between events (organisations' municipalities,
designs' CO₂e, orders, who holds a production order, …) lives in a ``State``:
a table of JSON values in the view, a dict in a recomputation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol
from uuid import UUID

from vardekedja.domain.money import round_half_up
from vardekedja.domain.transport import FIRST_VERSION, TABLES, transport_grams

PAID, PAYOUT, DISPATCH, PARTY = "paid", "payout", "dispatch", "party"
HOURS_PRODUCTION, HOURS_INSTALLATION, HOURS_MAINTENANCE = "hours_production", "hours_installation", "hours_maintenance"
CO2E_EMBODIED, CO2E_TRANSPORT = "co2e_embodied", "co2e_transport"
VAT = Fraction(25, 100)


@dataclass(frozen=True)
class Fact:
    position: int
    kind: str
    at: datetime
    order_id: str
    municipality: str
    party_id: str | None
    local: bool
    value: int


class State(Protocol):
    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...


class DictState(dict):  # type: ignore[type-arg]
    def put(self, key: str, value: Any) -> None:
        self[key] = value


def _id(value: Any) -> str:
    return str(value if isinstance(value, UUID) else UUID(str(value)))


def _place(text: str) -> str:
    return text.strip().casefold()


def milli(hours: float) -> int:
    return round(hours * 1000)


class ImpactFold:
    """Feed events in position order with ``feed``; facts go to ``emit``."""

    def __init__(self, state: State, emit: Callable[[Fact], None]) -> None:
        self.state, self.emit = state, emit
        self.handlers: dict[str, Callable[[str, Mapping[str, Any]], None]] = {
            "Organisation.Registered": self._registered, "Design.Drafted": self._drafted,
            "Design.Revised": self._revised, "Order.Placed": self._placed,
            "Order.PaymentReceived": self._payment, "Order.Refunded": self._refund,
            "Order.LineDelivered": self._line_delivered, "Payout.Owed": self._owed,
            "ProductionOrder.Opened": self._production_opened, "ProductionOrder.Accepted": self._accepted,
            "ProductionOrder.Released": self._released, "ProductionOrder.Completed": self._completed,
            "Delivery.Opened": self._delivery_opened, "Delivery.Dispatched": self._dispatched,
            "Delivery.Installed": self._installed, "Asset.Registered": self._asset,
            "MaintenanceOrder.Opened": self._maintenance_opened, "MaintenanceOrder.Resolved": self._resolved,
        }  # fmt: skip
        self._at: datetime | None = None
        self._position = 0

    def wants(self, kind: str) -> bool:
        return kind in self.handlers

    def feed(self, kind: str, stream_id: Any, data: Mapping[str, Any], at: datetime, position: int) -> None:
        handler = self.handlers.get(kind)
        if handler is not None:
            self._at, self._position = at, position
            handler(_id(stream_id), data)

    def _fact(self, kind: str, order_id: str, value: int, party_id: str | None = None) -> None:
        order = self.state.get(f"order:{order_id}")
        if order is None:
            return
        local = party_id is not None and self.state.get(f"org:{party_id}") == order["municipality"]
        assert self._at is not None
        self.emit(Fact(self._position, kind, self._at, order_id, order["municipality"], party_id, local, value))

    # Who is where, and what a revision weighs in CO₂e.

    def _registered(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"org:{stream}", _place(data["municipality"]))

    def _drafted(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"co2e:{stream}:1", milli(data["specification"]["co2e_kg"]))

    def _revised(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"co2e:{stream}:{data['revision']}", milli(data["specification"]["co2e_kg"]))

    # Orders and money.

    def _placed(self, stream: str, data: Mapping[str, Any]) -> None:
        lines, subtotal, vat = {}, 0, 0
        for line in data["lines"]:
            unit = line["royalty_ore"] + line["production_fee_ore"] + line["installation_fee_ore"] \
                + line["unit_platform_fee_ore"]
            amount = unit * line["quantity"]
            subtotal, vat = subtotal + amount, vat + round_half_up(amount * VAT)
            lines[str(line["line_no"])] = [_id(line["design_id"]), line["revision"], line["quantity"]]
        self.state.put(f"order:{stream}", {"municipality": _place(data["delivery_site"]["municipality"]),
                                           "subtotal": subtotal, "total": subtotal + vat, "lines": lines})  # fmt: skip
        self._fact(PARTY, stream, 0, _id(data["buyer_id"]))  # the buyer takes part in its order

    def _ex_vat(self, order_id: str, amount_ore: int) -> int:
        order = self.state.get(f"order:{order_id}")
        if order is None or not order["total"]:
            return 0
        return round_half_up(Fraction(amount_ore * order["subtotal"], order["total"]))

    def _payment(self, stream: str, data: Mapping[str, Any]) -> None:
        self._fact(PAID, stream, self._ex_vat(stream, data["amount_ore"]))

    def _refund(self, stream: str, data: Mapping[str, Any]) -> None:
        self._fact(PAID, stream, -self._ex_vat(stream, data["amount_ore"]))

    def _owed(self, stream: str, data: Mapping[str, Any]) -> None:
        self._fact(PAYOUT, _id(data["order_id"]), data["amount_ore"], _id(data["party_id"]))

    def _line_delivered(self, stream: str, data: Mapping[str, Any]) -> None:
        order = self.state.get(f"order:{stream}")
        if order is None:
            return
        design_id, revision, quantity = order["lines"][str(data["line_no"])]
        grams = self.state.get(f"co2e:{design_id}:{revision}") or 0
        self._fact(CO2E_EMBODIED, stream, grams * quantity)

    # Work.

    def _production_opened(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"production:{stream}", {"order": _id(data["order_id"]), "workshop": None})

    def _holder(self, stream: str, workshop: str | None) -> None:
        production = self.state.get(f"production:{stream}")
        if production is not None:
            self.state.put(f"production:{stream}", {**production, "workshop": workshop})

    def _accepted(self, stream: str, data: Mapping[str, Any]) -> None:
        self._holder(stream, _id(data["workshop_id"]))

    def _released(self, stream: str, data: Mapping[str, Any]) -> None:
        self._holder(stream, None)

    def _completed(self, stream: str, data: Mapping[str, Any]) -> None:
        production = self.state.get(f"production:{stream}")
        if production is not None:
            self._fact(HOURS_PRODUCTION, production["order"], milli(data["hours_worked"]), production["workshop"])

    def _delivery_opened(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"delivery:{stream}", _id(data["order_id"]))

    def _dispatched(self, stream: str, data: Mapping[str, Any]) -> None:
        order_id = self.state.get(f"delivery:{stream}")
        if order_id is None:
            return
        self._fact(DISPATCH, order_id, 1)
        # Dispatches recorded before the factors' version was (version 2 of the event) were made
        # under the first table; a vehicle no table knows (free text then) adds no transport figure.
        version = data.get("factors_version") or FIRST_VERSION
        vehicle, distance = data.get("vehicle"), data.get("distance_km")
        if vehicle in TABLES[version] and distance is not None:
            self._fact(CO2E_TRANSPORT, order_id, transport_grams(version, vehicle, distance))

    def _installed(self, stream: str, data: Mapping[str, Any]) -> None:
        order_id = self.state.get(f"delivery:{stream}")
        if order_id is not None and data.get("hours_worked") is not None:
            self._fact(HOURS_INSTALLATION, order_id, milli(data["hours_worked"]), _id(data["area_company_id"]))

    def _asset(self, stream: str, data: Mapping[str, Any]) -> None:
        self.state.put(f"asset:{stream}", _id(data["order_id"]))

    def _maintenance_opened(self, stream: str, data: Mapping[str, Any]) -> None:
        order_id = self.state.get(f"asset:{_id(data['asset_id'])}")
        if order_id is not None:
            self.state.put(f"maintenance:{stream}", [order_id, _id(data["area_company_id"])])

    def _resolved(self, stream: str, data: Mapping[str, Any]) -> None:
        found = self.state.get(f"maintenance:{stream}")
        if found is not None:
            self._fact(HOURS_MAINTENANCE, found[0], milli(data["hours_worked"]), found[1])
