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
    "failed": N_("failed"), "installed": N_("installed"),
}  # fmt: skip


def word(gettext: Callable[[str], str], value: str) -> str:
    known = WORDS.get(value.strip().casefold())
    return gettext(known) if known else value


def status(gettext: Callable[[str], str], value: str) -> str:
    known = STATUSES.get(value)
    return gettext(known) if known else value
