"""An impact report: summed facts for a scope and a period, beside a stated baseline.

``summarise`` takes sums by (kind, local) and the number of dispatches, so the
view (summing in SQL) and a recomputation from an export (summing in Python)
give the very same report. ``facts_in_scope`` is the recomputation's filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vardekedja.domain.transport import FACTORS_VERSION, factor
from vardekedja.impact.ledger import (
    CO2E_EMBODIED,
    CO2E_TRANSPORT,
    DISPATCH,
    HOURS_INSTALLATION,
    HOURS_MAINTENANCE,
    HOURS_PRODUCTION,
    PAID,
    PAYOUT,
    Fact,
)
from vardekedja.settings import Settings

Scope = Literal["order", "organisation", "municipality", "platform"]
SCOPES = ("order", "organisation", "municipality", "platform")


@dataclass(frozen=True)
class Baseline:
    """What the deliveries would have emitted carried from afar: each over ``distance_km`` by ``vehicle``."""

    vehicle: str = "truck"
    distance_km: float = 250.0
    factors_version: str = FACTORS_VERSION

    def describe(self) -> str:
        return (f"each delivery carried {self.distance_km:g} km by {self.vehicle.replace('_', ' ')} "
                f"(transport factors {self.factors_version}); embodied CO₂e as made")  # fmt: skip


def baseline_from(settings: Settings) -> Baseline:
    """The baseline the settings state (``VARDEKEDJA_IMPACT_BASELINE_VEHICLE`` and ``…_DISTANCE_KM``)."""
    return Baseline(settings.impact_baseline_vehicle, settings.impact_baseline_distance_km)


@dataclass(frozen=True)
class Query:
    scope: Scope
    id: str | None
    start: datetime | None
    end: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "id": self.id, "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}  # fmt: skip


def _kg(grams: int) -> float:
    return round(grams / 1000, 3)


def _hours(milli: int) -> float:
    return round(milli / 1000, 3)


def summarise(query: Query, sums: Mapping[tuple[str, bool], int], baseline: Baseline) -> dict[str, Any]:
    """The report from sums of fact values by (kind, local)."""

    def total(kind: str) -> int:
        return sums.get((kind, True), 0) + sums.get((kind, False), 0)

    to_parties, to_local = total(PAYOUT), sums.get((PAYOUT, True), 0)
    work = {name: {"local": _hours(sums.get((kind, True), 0)), "all": _hours(total(kind))}
            for name, kind in (("production", HOURS_PRODUCTION), ("installation", HOURS_INSTALLATION),
                               ("maintenance", HOURS_MAINTENANCE))}  # fmt: skip
    local_hours = sum(sums.get((kind, True), 0) for kind in (HOURS_PRODUCTION, HOURS_INSTALLATION, HOURS_MAINTENANCE))
    all_hours = sum(total(kind) for kind in (HOURS_PRODUCTION, HOURS_INSTALLATION, HOURS_MAINTENANCE))
    embodied, transport, dispatches = total(CO2E_EMBODIED), total(CO2E_TRANSPORT), total(DISPATCH)
    baseline_transport = round(dispatches * baseline.distance_km * factor(baseline.factors_version,
                                                                          baseline.vehicle) * 1000)  # fmt: skip
    return {
        **query.as_dict(),
        "money": {
            "paid_ex_vat_ore": total(PAID),
            "paid_to_parties_ore": to_parties,
            "paid_to_local_parties_ore": to_local,
            # Of what the parties were owed, the share that went to parties local to the site.
            "local_share": round(to_local / to_parties, 4) if to_parties else None,
        },
        "work_hours": {**work, "total": {"local": _hours(local_hours), "all": _hours(all_hours)}},
        "co2e_kg": {
            "embodied": _kg(embodied),
            "transport": _kg(transport),
            "total": _kg(embodied + transport),
            "deliveries": dispatches,
            "baseline": {
                "description": baseline.describe(), "vehicle": baseline.vehicle,
                "distance_km_per_delivery": baseline.distance_km, "factors_version": baseline.factors_version,
                "transport": _kg(baseline_transport), "total": _kg(embodied + baseline_transport),
            },
            "saved_against_baseline": _kg(baseline_transport - transport),
        },
    }


def members(facts: Iterable[Fact], party_id: str) -> set[str]:
    """The orders a party takes part in: as their buyer, or owed or working for them."""
    return {fact.order_id for fact in facts if fact.party_id == party_id}


def facts_in_scope(facts: list[Fact], query: Query) -> Counter[tuple[str, bool]]:
    """Sums by (kind, local) of the facts a query covers (the recomputation's side)."""
    if query.scope == "organisation":
        orders = members(facts, query.id or "")
    sums: Counter[tuple[str, bool]] = Counter()
    for fact in facts:
        if query.start is not None and fact.at < query.start:
            continue
        if query.end is not None and fact.at >= query.end:
            continue
        if query.scope == "order" and fact.order_id != query.id:
            continue
        if query.scope == "municipality" and fact.municipality != (query.id or "").strip().casefold():
            continue
        if query.scope == "organisation" and fact.order_id not in orders:
            continue
        sums[(fact.kind, fact.local)] += fact.value
    return sums
