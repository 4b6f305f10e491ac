"""The domain's and the application's error messages in the reader's language: one place for every page.

The domain says which rule a command broke in plain English, with the values
filled in (``an order that is paid can no longer be cancelled``). Each message
is listed here once, as a pattern with named placeholders; ``explain`` finds
the one a message matches, translates it through the catalogue and fills the
values back in (a status, role, material or field name among them is
translated too; a ``reason`` is itself a message). A message not listed is
shown as it is: ``tests/web/test_domain_words.py`` checks that every message
the domain and the application raise is listed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from vardekedja.web import vocabulary


def N_(message: str) -> str:
    """Marks a message for the catalogues without translating it here (Babel extracts ``N_``)."""
    return message


# In order: a message is explained by the first pattern it matches, so the general ones come last.
MESSAGES = (
    N_("a claim of %(amount)s öre does not fit what is left of the line (%(left)s öre)"),
    N_("a claim's parts must add up to its refund"),
    N_("only the delivering workshop may do this"),
    N_("a delivery that is %(status)s cannot be %(command)s"),
    N_("the window must end after it starts"),
    N_("the window is over before it is set (it ended %(when)s); give one that ends in the future"),
    N_("the distance must be 0–%(most)s km"),
    N_("vehicle must be one of %(choices)s"),
    N_("say who received the delivery"),
    N_("this delivery is not to be installed"),
    N_("only the area company serving the site may install"),
    N_("hours worked must be 0–%(most)s"),
    N_("times need a UTC offset"),
    N_("a design needs a title"),
    N_("a design needs a category"),
    N_("lead_time_days must be 0–3650"),
    N_("inspection_interval_months must be 1–%(most)s"),
    N_("only the owning designer may change a design"),
    N_("the design is retired"),
    N_("there is no draft revision to publish"),
    N_("files are attached to a draft revision: revise the design first"),
    N_("kind is picture or production_file"),
    N_("revision %(revision)s of this design is not published"),
    N_("organisation number %(number)s is already registered"),
    N_("inspections are scheduled, not reported"),
    N_("say what is wrong"),
    N_("give both lat and long, or neither"),
    N_("lat must be -90–90 and long -180–180"),
    N_("only the area company looking after the piece may do this"),
    N_("a maintenance order that is %(status)s cannot be %(command)s"),
    N_("hours_worked must be 0–%(most)s"),
    N_("materials_ore must be 0 or more"),
    N_("say why the report is rejected"),
    N_("an inspection has no reporter to erase"),
    N_("this report was recorded before reporters' data was sealed: it has no reporter's key to erase"),
    N_("this report's reporter is erased already"),
    N_("amounts are never negative"),
    N_("an order needs at least one line"),
    N_("an order has at most %(most)s lines"),
    N_("the order has no line %(line)s"),
    N_("only the buyer may do this to the order"),
    N_("an order that is %(status)s cannot be checked out"),
    N_("an order that is %(status)s takes no deliveries"),
    N_("line %(line)s is already delivered"),
    N_("the order did not ask for installation"),
    N_("line %(line)s is not delivered yet"),
    N_("line %(line)s is already installed"),
    N_("an order that is %(status)s can no longer be cancelled: production has started"),
    N_("an order that is %(status)s can no longer be cancelled"),
    N_("no area company installs in %(municipality)s"),
    N_("line %(line)s: quantity must be 1–%(most)s"),
    N_("line %(line)s: no published design %(design)s"),
    N_("line %(line)s: no workshop in %(municipality)s can make %(title)s (needs %(needs)s)"),
    N_("an order that is %(status)s is not in production"),
    N_("the delivery site needs a %(part)s"),
    N_("an organisation needs a name"),
    N_("an organisation needs a municipality"),
    N_("a workshop needs capabilities"),
    N_("no API key %(key)s"),
    N_("this payout already has a transfer"),
    N_("this email belongs to a member of another organisation"),
    N_("this invite link is not valid: it was used already or replaced"),
    N_("this invite link has expired: ask for a new one"),
    N_("this person is %(status)s already"),
    N_("this person is erased already"),
    N_("a production order that is %(status)s cannot be accepted"),
    N_("a workshop may take a production order when its capabilities cover the design's and its service area holds the delivery site's municipality"),
    N_("only the workshop that accepted the order may do this"),
    N_("a production order that is %(status)s cannot start"),
    N_("a production order that is %(status)s cannot complete"),
    N_("a production order that is %(status)s cannot be released"),
    N_("a production order that is %(status)s cannot be cancelled"),
    N_("the production order is cancelled"),
    N_("another workshop has accepted this production order"),
    N_("only %(who)s may do this, and %(name)s is %(what)s"),
    N_("no area company looks after pieces in %(municipality)s yet"),
    N_("the server is shutting down; the command was not run"),
    N_("no payment provider is configured"),
    N_("the order is paid and no payment provider is configured"),
    N_("a refund is due and no payment provider is configured"),
    N_("no person %(id)s in this organisation"),
    N_("the resource changed while the command ran; try again"),
    N_("the line changed while the claim was recorded; try again"),
    N_("no payment provider with payouts (Stripe Connect) is configured"),
    N_("the order was never paid"),
    N_("line %(line)s is not installed yet; claim once it is"),
    N_("another claim on this line was made at the same time; try again"),
    N_("a password has at least %(count)s characters"),
    N_("a password has at most %(count)s characters"),
    N_("choose another password: %(reason)s"),
    N_("a %(role)s is not paid by the marketplace and has no payout account"),
    N_("line %(line)s: %(reason)s"),
    N_("%(name)s must be 1–100000 mm"),
    N_("%(name)s must be 0–1000000"),
    N_("%(name)s is too large"),
    N_("%(text)s is not an organisation number (NNNNNN-NNNN)"),
    N_("%(text)s fails the organisation number check digit"),
    N_("%(who)s needs a service area"),
    N_("no %(kind)s %(id)s"),
)

FIELDS = {
    "name": N_("name"), "street": N_("street"), "postal_code": N_("postal code"), "municipality": N_("municipality"),
    "width_mm": N_("width"), "depth_mm": N_("depth"), "height_mm": N_("height"), "weight_kg": N_("weight"),
    "co2e_kg": N_("CO₂e"), "royalty_ore": N_("royalty"), "production_fee_ore": N_("production fee"),
    "installation_fee_ore": N_("installation fee"),
}  # fmt: skip
ARTICLES = re.compile(r"^an? ")


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for message in MESSAGES:
        pieces = re.split(r"%\((\w+)\)s", message)
        pattern = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>.+?)"
                          for index, piece in enumerate(pieces))  # fmt: skip
        found.append((re.compile(f"^{pattern}$", re.DOTALL), message))
    return found


def _value(gettext: Callable[[str], str], name: str, value: str) -> str:
    if name == "reason":
        return reason(gettext, value)
    bare = ARTICLES.sub("", value)
    for table in (vocabulary.STATUSES, vocabulary.ROLES, FIELDS):
        if value in table:
            return gettext(table[value])
        if bare in table.values():
            return gettext(bare)
    return vocabulary.word(gettext, value)


def reason(gettext: Callable[[str], str], error: Exception | str) -> str:
    """The error's message in the reader's language, as a clause (to follow "That could not be done: ")."""
    text = str(error).strip()
    for pattern, message in _patterns():
        matched = pattern.match(text)
        if matched is not None:
            return gettext(message) % {name: _value(gettext, name, value) for name, value in matched.groupdict().items()}
    return text


def explain(gettext: Callable[[str], str], error: Exception | str) -> str:
    """The error's message in the reader's language, as a sentence: a capital letter first and a stop last."""
    text = reason(gettext, error)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
