"""Words that come from data (statuses, and the categories, materials and capabilities the demo uses) in the
reader's language. A word the catalogue does not know is shown as it was entered."""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (Babel extracts ``N_``)."""
    return message


WORDS = {
    # categories
    "bench": N_("bench"), "table": N_("table"), "planter": N_("planter"), "pergola": N_("pergola"),
    "bike shelter": N_("bike shelter"), "play": N_("play"),
    # materials
    "oak": N_("oak"), "steel": N_("steel"), "larch": N_("larch"), "sedum": N_("sedum"),
    "concrete": N_("concrete"), "pine": N_("pine"), "aluminium": N_("aluminium"),
    # capabilities
    "carpentry": N_("carpentry"), "welding": N_("welding"), "cnc": N_("cnc"), "upholstery": N_("upholstery"),
}  # fmt: skip

STATUSES = {
    "draft": N_("draft"), "published": N_("published"), "retired": N_("retired"),
    "placed": N_("placed"), "paid": N_("paid"), "in_production": N_("in production"),
    "fulfilled": N_("fulfilled"), "cancelled": N_("cancelled"), "open": N_("open"), "accepted": N_("accepted"),
    "in_progress": N_("in progress"), "completed": N_("completed"), "pending": N_("pending"),
    "scheduled": N_("scheduled"), "dispatched": N_("dispatched"), "delivered": N_("delivered"),
    "failed": N_("failed"), "installed": N_("installed"), "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"), "rejected": N_("rejected"),
    "owed": N_("owed"), "transferred": N_("transferred"), "reversed": N_("reversed"),
    "invited": N_("invited"), "active": N_("active"), "removed": N_("removed"), "erased": N_("erased"),
}  # fmt: skip


EVENTS = {
    "Order.Placed": N_("Order placed"), "Order.CheckoutStarted": N_("Payment started"),
    "Order.PaymentReceived": N_("Payment received"), "Order.PaymentFailed": N_("Payment failed"),
    "Order.PaymentMismatched": N_("A payment did not match the order"), "Order.ProductionStarted": N_("Production started"),
    "Order.LineDelivered": N_("Line delivered"), "Order.LineInstalled": N_("Line installed"),
    "Order.Fulfilled": N_("Order fulfilled"), "Order.Cancelled": N_("Order cancelled"), "Order.Refunded": N_("Refunded"),
    "ProductionOrder.Opened": N_("Production order opened"), "ProductionOrder.Accepted": N_("A workshop took the work"),
    "ProductionOrder.Started": N_("The workshop started"), "ProductionOrder.Completed": N_("The workshop finished"),
    "ProductionOrder.Released": N_("The workshop released the work"),
    "ProductionOrder.Cancelled": N_("Production order cancelled"), "Delivery.Opened": N_("Ready for delivery"),
    "Delivery.Scheduled": N_("Delivery scheduled"), "Delivery.Dispatched": N_("On its way"),
    "Delivery.Delivered": N_("Delivered"), "Delivery.Failed": N_("Delivery failed"),
    "Delivery.Installed": N_("Installed"),
}  # fmt: skip


# The rest of the events the audit log lists, in words (the log shows the stored name beside them).
EVENTS.update({
    "Organisation.Registered": N_("Organisation registered"), "Organisation.ApiKeyIssued": N_("API key issued"),
    "Organisation.ApiKeyRevoked": N_("API key revoked"), "Directory.Opened": N_("Directory opened"),
    "Directory.Listed": N_("Listed in the directory"), "Directory.Snapshot": N_("Directory snapshot"),
    "Design.Drafted": N_("Design drafted"), "Design.Revised": N_("Draft changed"),
    "Design.MediaAttached": N_("File attached"), "Design.Published": N_("Design published"),
    "Design.Retired": N_("Design retired"), "Asset.Registered": N_("Piece registered"),
    "Claim.Refunded": N_("Claim refunded"), "MaintenanceOrder.Opened": N_("Maintenance order opened"),
    "MaintenanceOrder.Acknowledged": N_("Maintenance acknowledged"), "MaintenanceOrder.Started": N_("Maintenance started"),
    "MaintenanceOrder.Resolved": N_("Maintenance resolved"), "MaintenanceOrder.Rejected": N_("Maintenance rejected"),
    "MaintenanceOrder.ReporterErased": N_("Reporter erased"), "PaymentNotice.Received": N_("Payment notice received"),
    "Payout.Owed": N_("Payout owed"), "Payout.Reduced": N_("Payout reduced after a claim"),
    "Payout.Reversed": N_("Transfer reversed"), "Payout.TransferAttached": N_("Transfer recorded"),
    "Payout.TransferFailed": N_("Transfer failed"), "Payout.Transferred": N_("Payout transferred"),
    "PayoutAccount.Opened": N_("Payout account opened"), "PayoutAccount.LinkIssued": N_("Onboarding link issued"),
    "PayoutAccount.ReadinessChanged": N_("Payout account readiness changed"), "Person.Invited": N_("Person invited"),
    "Person.Reinvited": N_("Person invited again"), "Person.Joined": N_("Person joined"),
    "Person.Removed": N_("Person removed"), "Person.Erased": N_("Person erased"),
})  # fmt: skip


# The order timeline names each entry by its kind (see projections/timeline.py): the same words.
EVENTS.update({kind: EVENTS[topic] for kind, topic in {
    "placed": "Order.Placed", "checkout_started": "Order.CheckoutStarted", "paid": "Order.PaymentReceived",
    "payment_failed": "Order.PaymentFailed", "payment_mismatched": "Order.PaymentMismatched",
    "in_production": "Order.ProductionStarted", "line_delivered": "Order.LineDelivered",
    "line_installed": "Order.LineInstalled", "fulfilled": "Order.Fulfilled", "cancelled": "Order.Cancelled",
    "refunded": "Order.Refunded", "production_opened": "ProductionOrder.Opened",
    "production_accepted": "ProductionOrder.Accepted", "production_started": "ProductionOrder.Started",
    "production_completed": "ProductionOrder.Completed", "production_released": "ProductionOrder.Released",
    "production_cancelled": "ProductionOrder.Cancelled", "delivery_opened": "Delivery.Opened",
    "delivery_scheduled": "Delivery.Scheduled", "delivery_dispatched": "Delivery.Dispatched",
    "delivered": "Delivery.Delivered", "delivery_failed": "Delivery.Failed", "installed": "Delivery.Installed",
}.items()})  # fmt: skip


# The views the operator's page lists with their progress, by the projection's name.
VIEWS = {
    "organisations": N_("organisations and keys"), "catalogue": N_("catalogue"), "orders": N_("orders"),
    "production": N_("production orders"), "deliveries": N_("deliveries"), "payouts": N_("payouts"),
    "care": N_("installed pieces and maintenance"), "people": N_("people"), "impact": N_("impact"),
    "settlement": N_("payout accounts and transfers"), "ledger": N_("bookkeeping"),
}  # fmt: skip


def view(gettext: Callable[[str], str], value: str) -> str:
    known = VIEWS.get(value)
    return gettext(known) if known else value


ROLES = {
    "operator": N_("operator"), "designer": N_("designer"), "workshop": N_("workshop"), "buyer": N_("buyer"),
    "area_company": N_("area company"), "auditor": N_("auditor"),
}  # fmt: skip


def role(gettext: Callable[[str], str], value: str) -> str:
    known = ROLES.get(value)
    return gettext(known) if known else value


def event(gettext: Callable[[str], str], value: str) -> str:
    known = EVENTS.get(value)
    return gettext(known) if known else value


def word(gettext: Callable[[str], str], value: str) -> str:
    known = WORDS.get(value.strip().casefold())
    return gettext(known) if known else value


def status(gettext: Callable[[str], str], value: str) -> str:
    known = STATUSES.get(value)
    return gettext(known) if known else value
