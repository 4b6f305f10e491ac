"""Money on the pages: a party connects its payout account and sees its payouts; the operator and auditors see
the reconciliation, the transfers that failed and download the books."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.support import Cast, Party, publish
from tests.chain import SITE
from tests.unit.connect_fake import FakeConnect
from tests.unit.flow import deliver_line
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.domain.order import LineRequest
from vardekedja.projections.orders import OrdersView
from vardekedja.runtime import Runtime
from vardekedja.web.i18n import STOCKHOLM, Formats
from vardekedja.web.rendering import reference

PAGES = {"designer": ("/studio", "/studio/payout-account"), "workshop": ("/workshop", "/workshop/payout-account"),
         "area_company": ("/area", "/area/payout-account")}  # fmt: skip


def _token(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', client.get(path).text)
    assert found is not None, path
    return found.group(1)


@pytest.fixture
def connect(runtime: Runtime) -> FakeConnect:
    """The in-memory Connect; the tests move the money themselves (no follower racing them)."""
    runtime.settings.settle_payouts = False
    fake = FakeConnect()
    runtime.marketplace.payments = fake  # type: ignore[assignment]
    return fake


def _ready(runtime: Runtime, connect: FakeConnect, party: Party) -> None:
    app = runtime.marketplace
    _, link = app.connect_payout_account(party.id, "https://back/", "https://back/")
    connect.accounts[link.account_id] = True
    app.record_account_update(party.id, link.account_id)


def _paid_and_delivered(runtime: Runtime, connect: FakeConnect, cast: Cast, *, install: bool = True,
                        deliver: bool = True) -> UUID:  # fmt: skip
    """An order of two benches, paid, and (unless told otherwise) delivered and installed."""
    app = runtime.marketplace
    design = publish(cast.designer, title="Parkbänk Fittja", royalty_ore=250_50, production_fee_ore=6_400_00,
                     installation_fee_ore=900_00)  # fmt: skip
    order_id = app.place_order(cast.buyer.id, SITE, install, [LineRequest(UUID(design["id"]), 2)]).id
    app.start_checkout(cast.buyer.id, order_id, "pi_web")
    app.record_payment(order_id, "pi_web", app.order(order_id).total_ore, "sek")
    connect.pay("pi_web", app.order(order_id).total_ore)
    if deliver:
        delivery = deliver_line(app, cast.workshop.id, order_id, 1)
        if install:
            app.install(cast.area_company.id, delivery)
    return order_id


def _pay_out(runtime: Runtime, order_id: UUID) -> dict[str, str]:
    app = runtime.marketplace
    outcomes = {p.role.value: app.pay_out(p.id) for p in app.payouts(app.order(order_id))}
    caught_up(runtime)
    return outcomes


@pytest.mark.parametrize("role", PAGES)
def test_a_party_connects_its_payout_account_from_its_page_and_sees_when_it_is_ready(
        role: str, client: TestClient, runtime: Runtime, cast: Cast, connect: FakeConnect) -> None:  # fmt: skip
    party = getattr(cast, role)
    home, action = PAGES[role]
    caught_up(runtime)
    sign_in(client, party)
    shown = client.get(home, params={"lang": "en"})
    page = shown.text
    assert "No payout account is connected yet" in page and f'action="{action}"' in page
    # The form's answer is a redirect to Stripe's onboarding, which the page's form-action must let through.
    assert "form-action 'self' https://connect.stripe.com;" in shown.headers["content-security-policy"]
    assert client.post(action, data={}).status_code == 403, "no form token, nothing done"
    assert runtime.marketplace.payout_account(party.id) is None
    connected = client.post(action, data={"csrftoken": _token(client, home)}, follow_redirects=False)
    account = runtime.marketplace.payout_account(party.id)
    assert connected.status_code == 303 and connected.headers["location"] == f"https://connect.test/onboard/{account.account_id}"
    caught_up(runtime)
    page = client.get(home).text
    assert "waiting for your details at Stripe" in page and "Give Stripe your details" in page
    connect.accounts[account.account_id] = True
    runtime.marketplace.record_account_update(party.id, account.account_id)
    caught_up(runtime)
    page = client.get(home).text
    assert "Your payout account is ready" in page and f'action="{action}"' not in page
    assert "Ert utbetalningskonto är klart" in client.get(home, params={"lang": "sv"}).text


def test_without_a_payment_provider_the_button_says_payouts_are_not_set_up(client: TestClient, runtime: Runtime,
                                                                           cast: Cast) -> None:  # fmt: skip
    caught_up(runtime)
    sign_in(client, cast.designer)
    before = runtime.marketplace.position
    refused = client.post("/studio/payout-account", data={"csrftoken": _token(client, "/studio")})
    assert refused.status_code == 503 and "Utbetalningar är inte inrättade" in refused.text
    assert runtime.marketplace.position == before


def test_each_party_sees_its_own_payouts_with_their_status_in_its_language_and_no_one_elses(
        client: TestClient, runtime: Runtime, cast: Cast, connect: FakeConnect) -> None:  # fmt: skip
    _ready(runtime, connect, cast.designer)
    order_id = _paid_and_delivered(runtime, connect, cast)
    assert _pay_out(runtime, order_id) == {"designer": "transferred", "workshop": "waiting", "area_company": "waiting"}
    sv, en = Formats("sv"), Formats("en")
    sign_in(client, cast.designer)
    studio = client.get("/studio", params={"lang": "sv"}).text
    assert "överförd" in studio and sv.money(2 * 250_50) in studio
    assert f"Parkbänk Fittja × 2, {SITE.name}" in studio and str(order_id)[:8] not in studio  # the sale in words
    studio = client.get("/studio", params={"lang": "en"}).text
    assert "transferred" in studio and en.money(2 * 250_50) in studio and en.money(2 * 6_400_00) not in studio
    sign_in(client, cast.workshop)
    workshop = client.get("/workshop", params={"lang": "en"}).text
    assert "status-owed" in workshop and en.money(2 * 6_400_00) in workshop and en.money(2 * 250_50) not in workshop
    sign_in(client, cast.area_company)
    area = client.get("/area", params={"lang": "sv"}).text
    assert "utestående" in area and sv.money(2 * 900_00) in area
    for other in (cast.other_designer, cast.other_workshop):
        sign_in(client, other)
        page = client.get(PAGES[other.role][0], params={"lang": "en"}).text
        assert "No payouts yet." in page and str(order_id)[:8] not in page
        assert all(en.money(amount) not in page for amount in (2 * 250_50, 2 * 6_400_00, 2 * 900_00))
    token = _token(client, "/workshop")
    sign_in(client, cast.buyer)
    assert client.post("/studio/payout-account", data={"csrftoken": token}).status_code == 403


def test_the_operator_sees_the_reconciliation_the_failing_transfers_and_downloads_the_books(
        client: TestClient, runtime: Runtime, cast: Cast, connect: FakeConnect) -> None:  # fmt: skip
    for party in (cast.designer, cast.workshop):
        _ready(runtime, connect, party)
    settled = _paid_and_delivered(runtime, connect, cast, install=False)
    connect.fail_next = 1
    outcomes = _pay_out(runtime, settled)
    assert sorted(outcomes.values()) == ["failed", "transferred"]
    failed_role = next(role for role, outcome in outcomes.items() if outcome == "failed")
    waiting = _paid_and_delivered(runtime, connect, cast, deliver=False)
    caught_up(runtime)
    sign_in(client, cast.operator)
    assert 'href="/admin/money"' in client.get("/admin").text
    en = Formats("en")
    page = client.get("/admin/money", params={"lang": "en"})
    assert page.status_code == 200
    text = page.text
    reconciled = runtime.marketplace
    site = reconciled.order(settled).delivery_site.name
    for order_id in (settled, waiting):  # named by buyer, site and day, with the reference the buyer's page shows
        with runtime.database.reader.connect() as connection:
            placed = runtime.view(OrdersView).order(connection, order_id)["placed_at"]
        assert f"{cast.buyer.name}: {site}, {en.date(placed)} " in text
        assert f"Reference {reference(order_id)}" in text and str(order_id)[:8] not in text
        assert en.money(reconciled.order(order_id).total_ore) in text
    assert "for lines not yet delivered or installed" in text, "the unpaid-out order's difference is explained"
    assert en.money(sum(reconciled.order(o).total_ore for o in (settled, waiting))) in text, "the total"
    party = {"designer": cast.designer, "workshop": cast.workshop}[failed_role]
    failures = text.split("Transfers that failed", 1)[1]
    assert party.name in failures and re.search(rf"Reference {reference(settled)}</span>, line \d", failures) and "fake outage" in failures and "Next attempt" in failures
    assert "<td>1</td>" in failures, "one attempt so far"
    sie = re.search(r'href="(/admin/money/sie[^"]*)"', text)
    assert sie is not None
    books = client.get(sie.group(1).replace("&amp;", "&"))
    assert books.status_code == 200 and "attachment" in books.headers["content-disposition"]
    assert books.content.startswith(b"#FLAGGA") and b"#VER" in books.content
    today = datetime.now(STOCKHOLM).date().isoformat()
    chosen = client.get("/admin/money", params={"from": today, "to": today, "lang": "en"}).text
    assert f'href="/admin/money/sie?from={today}&amp;to={today}"' in chosen and reference(settled) in chosen
    assert "No money arrived in this period." in client.get("/admin/money", params={"to": "2020-01-01", "lang": "en"}).text
    assert client.get("/admin/money", params={"from": "2026-12-01", "to": "2026-11-01"}).status_code == 422
    assert client.get("/admin/money", params={"from": "igår"}).status_code == 422
    sign_in(client, cast.auditor)
    assert reference(settled) in client.get("/audit/money").text
    assert 'href="/audit/money"' in client.get("/audit").text
    assert client.get("/audit/money/sie").status_code == 200
    for outsider in (cast.buyer, cast.designer):
        sign_in(client, outsider)
        assert client.get("/admin/money").status_code == 403
        assert client.get("/admin/money/sie").status_code == 403
