"""Impact charts: the report ``GET /v1/impact`` answers, drawn as bars on the server, with a table of the same figures.

The figures come from the API's own ``report_for`` (the same rule on who sees
what, the same view); this module only chooses the period from the page's form
and lays the figures out as bars. ``_impact_chart.html`` draws them as inline
SVG with a title and a description, and the same figures as a table beside it.

No charting library: the ones that draw on the server either bring a scientific
stack (matplotlib), or write ``<style>`` and ``<script>`` into the SVG
(pygal), which the pages' Content-Security-Policy forbids; a few bars drawn by
one template need neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from babel.numbers import format_percent
from sqlalchemy.engine import Connection

from vardekedja.api.deps import Caller
from vardekedja.api.problems import ApiError
from vardekedja.api.routes.impact import make_query, report_for
from vardekedja.runtime import Runtime
from vardekedja.web.errors import PageError
from vardekedja.web.i18n import STOCKHOLM, Formats
from vardekedja.web.vocabulary import N_

VEHICLES = {"cargo_bike": N_("cargo bike"), "electric_van": N_("electric van"), "van": N_("van"),
            "truck": N_("truck")}  # fmt: skip
WIDTH, VALUE_ROOM, ROW = 320, 110, 40  # the SVG's own units: at 360 px one unit is about one pixel


@dataclass(frozen=True)
class Period:
    """Whole days in Swedish time, ``to`` included; empty ends mean since the start or until now."""

    start: date | None = None
    end: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(self.start, time(), STOCKHOLM) if self.start else None
        end = datetime.combine(self.end + timedelta(days=1), time(), STOCKHOLM) if self.end else None
        return start, end

    def values(self) -> dict[str, str]:
        return {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}


def period(gettext: Callable[[str], str], start: str, end: str) -> Period:
    """The period a page's form asks for; a date that cannot be read is named beside its field."""
    days: dict[str, date | None] = {}
    errors = {}
    for name, text in (("from", start.strip()), ("to", end.strip())):
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            days[name], errors[name] = None, gettext("Write a date as YYYY-MM-DD, e.g. 2026-03-31.")
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors["to"] = gettext("The last day comes before the first.")
    if errors:
        return Period(errors=errors)
    return Period(days["from"], days["to"])


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str  # the figure as the reader's language writes it
    length: float  # in the SVG's units
    tone: str  # "local", "all" or "baseline": a colour, never the only cue (each bar is labelled)


@dataclass(frozen=True)
class Chart:
    key: str  # unique on the page: ids for the title and the description
    title: str
    summary: str  # the text alternative: what the bars say, in a sentence
    unit: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return ROW * len(self.bars) + 8


def _bars(rows: list[tuple[str, float, str, str]]) -> list[Bar]:
    widest = max((value for _, value, _, _ in rows), default=0) or 1
    room = WIDTH - VALUE_ROOM  # the longest bar leaves room for its figure
    return [Bar(label, shown, max(0.0, value) / widest * room, tone) for label, value, shown, tone in rows]


def charts(report: dict[str, Any], key: str, gettext: Callable[[str], str], formats: Formats) -> list[Chart]:
    """Money (local share), work hours (local and all) and CO₂e (embodied, transport, the baseline)."""
    _ = gettext
    money, hours, co2e = report["money"], report["work_hours"], report["co2e_kg"]

    def kr(ore: int) -> str:
        return formats.money(ore)

    def h(value: float) -> str:
        return _("%(hours)s h") % {"hours": formats.number(value, 1)}

    def kg(value: float) -> str:
        return _("%(kg)s kg") % {"kg": formats.number(value, 1)}

    share = money["local_share"]
    shown_share = format_percent(share, locale=formats.locale) if share is not None else _("none paid yet")
    baseline = co2e["baseline"]
    vehicle = _(VEHICLES.get(baseline["vehicle"], baseline["vehicle"]))
    kinds = (("production", _("Production")), ("installation", _("Installation")),
             ("maintenance", _("Maintenance")), ("total", _("All work")))  # fmt: skip
    return [
        Chart(f"{key}-money", _("Money"), _("Local share of what the parties were paid: %(share)s.")
              % {"share": shown_share}, _("kronor ex VAT"), _bars([  # fmt: skip
                  (_("Paid for orders"), money["paid_ex_vat_ore"], kr(money["paid_ex_vat_ore"]), "all"),
                  (_("Paid to parties"), money["paid_to_parties_ore"], kr(money["paid_to_parties_ore"]), "all"),
                  (_("Paid to local parties"), money["paid_to_local_parties_ore"],
                   kr(money["paid_to_local_parties_ore"]), "local"),
              ])),
        Chart(f"{key}-hours", _("Work"), _("%(local)s of %(all)s hours of work were done by local parties.")
              % {"local": formats.number(hours["total"]["local"], 1), "all": formats.number(hours["total"]["all"], 1)},
              _("hours"), _bars([row for name, label in kinds for row in (
                  (_("%(kind)s, local") % {"kind": label}, hours[name]["local"], h(hours[name]["local"]), "local"),
                  (_("%(kind)s, all") % {"kind": label}, hours[name]["all"], h(hours[name]["all"]), "all"),
              )])),
        Chart(f"{key}-co2e", _("CO₂e"), _("%(total)s kg CO₂e, against %(baseline)s kg had every delivery "
                                         "(%(count)s in all) been carried %(km)s km by %(vehicle)s.")
              % {"total": formats.number(co2e["total"], 1), "baseline": formats.number(baseline["total"], 1),
                 "count": formats.number(co2e["deliveries"]), "km": formats.number(baseline["distance_km_per_delivery"]),
                 "vehicle": vehicle}, _("kg CO₂e"), _bars([
                  (_("Embodied"), co2e["embodied"], kg(co2e["embodied"]), "all"),
                  (_("Transport"), co2e["transport"], kg(co2e["transport"]), "local"),
                  (_("Baseline transport"), baseline["transport"], kg(baseline["transport"]), "baseline"),
                  (_("Total"), co2e["total"], kg(co2e["total"]), "all"),
                  (_("Baseline total"), baseline["total"], kg(baseline["total"]), "baseline"),
              ])),
    ]  # fmt: skip


async def impact_charts(reads: Any, runtime: Runtime, caller: Caller, scope: str, id: str | None, chosen: Period,
                        key: str, gettext: Callable[[str], str], formats: Formats) -> list[Chart]:  # fmt: skip
    """The charts of one scope over the chosen period, read as ``GET /v1/impact`` reads it."""
    if chosen.errors:
        return []
    query = make_query(scope, id, *chosen.bounds())  # type: ignore[arg-type]

    def read(views: Connection) -> dict[str, Any]:
        return report_for(runtime, views, caller, query)

    try:
        report = await reads.read(read)
    except ApiError as refused:
        raise PageError(refused.status, gettext("This page is for another kind of organisation.")) from None
    return charts(report, key, gettext, formats)
