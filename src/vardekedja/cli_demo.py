"""``vardekedja demo --local-stripe``: the demo's money made at the local Stripe stand-in, kept in the data folder.

The demo's paid orders are paid by card at the stand-in (a PaymentIntent from
checkout, with its ``transfer_group`` and a charge), not with payment ids no
provider knows, and the demo's designers, workshops and area companies open
payout accounts and finish onboarding there. The stand-in keeps all of it in
the data folder (``local-stripe.pickle``), where ``vardekedja serve
--local-stripe`` starts it again, so the settlement follower transfers the
demo's payouts from their orders' charges as it would with Stripe.

Payments are recorded here as the signed webhook would record them: nobody
listens for the stand-in's webhooks while the demo is seeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from uuid import UUID

import httpx

from vardekedja.application import Marketplace
from vardekedja.demo import DemoResult, seed
from vardekedja.demo_people import DemoSignIn, seed_people
from vardekedja.domain.organisation import Role
from vardekedja.local_stripe import SECRET_KEY, LocalStripe
from vardekedja.personal_data import PersonalData
from vardekedja.settings import Settings
from vardekedja.stripe_gateway import StripeGateway

STATE_FILE = "local-stripe.pickle"  # in the data folder; `rm -rf var` forgets the stand-in's data with the rest
CARD = "4242424242424242"  # Stripe's test card that goes through
PAYEES = (Role.DESIGNER, Role.WORKSHOP, Role.AREA_COMPANY)


def stand_in_state(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def pay_by_card(app: Marketplace, buyer: UUID, order_id: UUID) -> None:
    """Check the order out and pay it with the test card at the stand-in, then record the payment."""
    gateway = app.payments
    assert isinstance(gateway, StripeGateway)
    _, intent = app.checkout(buyer, order_id)
    card = {"number": CARD, "exp_month": "12", "exp_year": str(date.today().year + 3), "cvc": "123"}
    token = gateway.client.v1.tokens.create(params={"card": card})  # type: ignore[typeddict-item]
    paid = gateway.attach_card_and_confirm(intent.id, str(token["id"]))
    app.record_payment(order_id, paid.id, paid.amount_ore, paid.currency)


def ready_payout_account(app: Marketplace, organisation_id: UUID) -> None:
    """Open the organisation's payout account and finish its onboarding (the stand-in's one-button page)."""
    _, link = app.connect_payout_account(organisation_id, "http://127.0.0.1/", "http://127.0.0.1/")
    finished = httpx.post(link.onboarding_url, timeout=10.0)
    if not finished.is_redirect:  # the page sends the party back once the account is ready
        finished.raise_for_status()
    app.record_account_update(organisation_id, link.account_id)


def seed_at_local_stripe(settings: Settings, kept: Mapping[str, str], pictures: Path) -> DemoResult:
    """Seed the demo with its money at the stand-in. A demo seeded before, with payments no provider knows,
    gets no payout accounts: transfers from those payments could only fail."""
    with LocalStripe(state=stand_in_state(settings)) as stand_in:
        gateway = StripeGateway(SECRET_KEY, None, api_base=stand_in.base)
        personal_data = PersonalData.for_settings(settings)  # what the demo seals stays readable
        app = Marketplace(settings.event_store_env(), platform_fee_rate=settings.fee_rate, payments=gateway,
                          personal_data=personal_data)  # fmt: skip
        try:
            result = seed(app, kept, pictures=pictures, pay=pay_by_card)
            if result.seeded:
                for listing in app.listed().listings.values():
                    if listing.role in PAYEES:
                        ready_payout_account(app, listing.organisation_id)
        finally:
            app.close()
            personal_data.dispose()
    return result


def demo_people(settings: Settings, kept: Mapping[str, str]) -> list[DemoSignIn]:
    """A person with a password in each demo organisation, their names sealed under the data folder's keys."""
    personal_data = PersonalData.for_settings(settings)
    app = Marketplace(settings.event_store_env(), platform_fee_rate=settings.fee_rate, personal_data=personal_data)
    try:
        return seed_people(app, kept)
    finally:
        app.close()
        personal_data.dispose()
