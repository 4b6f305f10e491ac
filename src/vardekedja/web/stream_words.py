"""A stream in words for the auditor's page: what it is (an order to a site, the organisation by its name,
the design by its title) and its state as fields and values, from the state the API's
``GET /v1/audit/streams/{id}`` rebuilds. A field the catalogue does not name is shown by its stored name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vardekedja.web.vocabulary import N_

Gettext = Callable[[str], str]

# Fields of the aggregates' state, in words.
FIELDS = {
    "account_id": N_("Payout account"), "amount_ore": N_("Amount"), "api_keys": N_("API keys"),
    "area_company_id": N_("Area company"), "asset_id": N_("Installed piece"), "buyer_id": N_("Buyer"),
    "capabilities": N_("Capabilities"), "caretaker_id": N_("Looked after by"), "checkouts": N_("Payment attempts"),
    "code": N_("Code"), "contact": N_("Contact"), "currency": N_("Currency"), "delivered_lines": N_("Lines delivered"),
    "delivery_id": N_("Delivery"), "delivery_site": N_("Delivery site"), "description": N_("Description"),
    "design_id": N_("Design"), "designer_id": N_("Designer"), "email": N_("Email"), "failures": N_("Failures"),
    "hours_worked": N_("Hours worked"), "install": N_("Install"), "installed_lines": N_("Lines installed"),
    "language": N_("Language"), "line_no": N_("Line"), "lines": N_("Lines"), "media": N_("Media"),
    "municipality": N_("Municipality"), "name": N_("Name"), "notes": N_("Notes"), "order_id": N_("Order"),
    "org_number": N_("Organisation number"), "organisation_id": N_("Organisation"), "party_id": N_("Party"),
    "payments": N_("Payments"), "platform_fee_rate": N_("Platform fee rate"), "postal_code": N_("Postal code"),
    "production_fee_ore": N_("Production fee"), "published_revisions": N_("Published revisions"),
    "quantity": N_("Quantity"), "reason": N_("Reason"), "received_by": N_("Received by"), "refunds": N_("Refunds"),
    "revision": N_("Revision"), "revisions": N_("Revisions"), "retired": N_("Retired"), "role": N_("Role"),
    "service_area": N_("Service area"), "site": N_("Site"), "status": N_("Status"), "street": N_("Street"),
    "title": N_("Title"), "transfer_id": N_("Transfer"), "version": N_("Version"), "window": N_("Delivery window"),
    "workshop_id": N_("Workshop"), "unit_price_ore": N_("Unit price"), "royalty_ore": N_("Royalty"),
    "installation_fee_ore": N_("Installation fee"), "category": N_("Category"), "materials": N_("Materials"),
    "licence": N_("Licence"), "lead_time_days": N_("Lead time (days)"), "co2e_kg": N_("CO₂e (kg)"),
    "width_mm": N_("Width (mm)"), "depth_mm": N_("Depth (mm)"), "height_mm": N_("Height (mm)"),
    "weight_kg": N_("Weight (kg)"), "required_capabilities": N_("Required capabilities"),
    "unit_platform_fee_ore": N_("Platform fee per unit"),
}  # fmt: skip

# What a stream is, by its aggregate's type: a sentence with the state's fields filled in.
KINDS = {
    "Order": N_("An order to %(site)s"), "Organisation": N_("The organisation %(name)s"),
    "Design": N_("The design %(title)s"), "ProductionOrder": N_("A production order for %(title)s"),
    "Asset": N_("The installed piece %(title)s"), "Delivery": N_("A delivery of line %(line_no)s of an order"),
    "Payout": N_("A payout for line %(line_no)s of an order"), "Person": N_("A person"),
}  # fmt: skip
# Fields that point to another stream, named by it: an organisation by its name, a design by its title.
ORGANISATIONS = frozenset({"buyer_id", "designer_id", "workshop_id", "area_company_id", "party_id", "caretaker_id",
                           "organisation_id"})  # fmt: skip
DESIGNS = frozenset({"design_id"})
LINKS = ORGANISATIONS | DESIGNS | {"order_id", "delivery_id", "production_order_id", "asset_id"}
HIDDEN = frozenset({"type", "id", "version", "created_on", "modified_on"})  # said elsewhere on the page


def field(gettext: Gettext, name: str) -> str:
    known = FIELDS.get(name)
    return gettext(known) if known else name.replace("_", " ").capitalize()


def fields(state: dict[str, Any]) -> list[tuple[str, Any]]:
    """The state's fields to show, in the order the aggregate keeps them."""
    return [(name, value) for name, value in state.items() if name not in HIDDEN]


def what(gettext: Gettext, state: dict[str, Any] | None) -> str:
    """The stream named by what it is; a kind without a sentence (or a state that cannot be rebuilt): "Stream"."""
    kind = KINDS.get(str((state or {}).get("type")))
    if state is None or kind is None:
        return gettext("Stream")
    values = {"site": (state.get("delivery_site") or {}).get("name", ""), "name": state.get("name") or "",
              "title": state.get("title") or _latest_title(state), "line_no": state.get("line_no", "")}  # fmt: skip
    return gettext(kind) % values


def _latest_title(state: dict[str, Any]) -> str:
    revisions = state.get("revisions") or {}
    if not revisions:
        return ""
    return str(revisions[max(revisions, key=int)].get("title", ""))


def pointed_to(value: Any, names: frozenset[str], field_name: str = "") -> set[str]:
    """The ids the state's fields in ``names`` hold, at any depth."""
    if isinstance(value, dict):
        return set().union(*(pointed_to(item, names, key) for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(pointed_to(item, names, field_name) for item in value))
    return {value} if field_name in names and isinstance(value, str) else set()
