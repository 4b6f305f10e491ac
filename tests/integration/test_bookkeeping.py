"""Reconciliation and the SIE 4 export, from the views, checked by a parser of our own here.

Random orders, payments, deliveries, claims, cancellations and transfers go through the marketplace on
SQLite with the in-memory Connect fake; then every order must reconcile (received = VAT + fee +
transferred + owed + refunded, anything else explained), every #VER of the SIE file must balance to
zero, and the file's account totals must equal the ledger's.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chain import SITE, Cast, published_design, register_cast, spec
from tests.integration.views_support import backend_settings
from tests.soak import soak
from tests.unit.connect_fake import FakeConnect
from tests.unit.flow import deliver_line, place_and_pay
from vardekedja.domain.order import LineRequest
from vardekedja.projections.ledger import LedgerView, reconcile
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.sie import DEFAULT_ACCOUNTS, write_sie


def parse_sie(data: bytes) -> dict[str, Any]:
    """What a bookkeeping program reads from an SIE 4 file: its labels, accounts and verifications."""
    text = data.decode("cp437")
    assert "\r\n" in text
    labels: dict[str, list[str]] = {}
    accounts: dict[int, str] = {}
    verifications: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "{":
            assert current is not None and current["open"] is False
            current["open"] = True
            continue
        if stripped == "}":
            assert current is not None and current["open"]
            verifications.append(current)
            current = None
            continue
        label, *fields = shlex.split(stripped, posix=True)
        if label == "#VER":
            series, number, day, vertext, *_ = fields
            current = {"series": series, "number": int(number), "date": day, "text": vertext, "open": False, "trans": []}
        elif label == "#TRANS":
            assert current is not None and current["open"], "a #TRANS outside a verification"
            account, objects, amount = fields[:3]
            assert objects == "{}"
            kronor, ore = amount.lstrip("-").split(".")
            assert len(ore) == 2
            value = int(kronor) * 100 + int(ore)
            current["trans"].append((int(account), -value if amount.startswith("-") else value))
        elif label == "#KONTO":
            accounts[int(fields[0])] = fields[1]
        else:
            labels[label] = fields
    assert current is None, "a verification was not closed"
    return {"labels": labels, "accounts": accounts, "verifications": verifications}


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def books(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, FakeConnect, Cast, list[UUID]]]:  # fmt: skip
    """One marketplace for the module (each example adds its orders), on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path_factory.mktemp("books"), url) as settings_:
        connect = FakeConnect()
        runtime = Runtime(settings_, payments=connect)  # type: ignore[arg-type]
        try:
            yield runtime, connect, register_cast(runtime.marketplace), []
        finally:
            runtime.close()


line = st.tuples(st.integers(0, 300_00), st.integers(1, 9_000_00), st.integers(0, 2_000_00), st.integers(1, 4))
fate = st.sampled_from(["unpaid", "cancelled", "paid twice", "in production", "delivered", "settled", "claimed"])


@settings(max_examples=soak(15, 30), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])  # fmt: skip
@given(lines=st.lists(line, min_size=1, max_size=2), install=st.booleans(), fate=fate, claim=st.integers(1, 10**9),
       ready=st.booleans())
def test_every_order_reconciles_and_the_sie_file_balances_and_matches_the_ledger(
    books: tuple[Runtime, FakeConnect, Cast, list[UUID]], lines: list[tuple[int, int, int, int]], install: bool,
    fate: str, claim: int, ready: bool,
) -> None:  # fmt: skip
    runtime, connect, cast, orders = books
    app = runtime.marketplace
    requests = [LineRequest(published_design(app, cast, spec(royalty_ore=r, production_fee_ore=p, installation_fee_ore=i)), q)
                for r, p, i, q in lines]  # fmt: skip
    intent = f"pi_{len(orders)}"
    if fate == "unpaid":
        orders.append(app.place_order(cast.buyer, SITE, install, requests).id)
    else:
        order_id = place_and_pay(app, cast, requests, install=install, payment_intent_id=intent)
        orders.append(order_id)
        total = app.order(order_id).total_ore
        connect.pay(intent, total)
        if fate == "cancelled":
            app.cancel_order(cast.buyer, order_id, "changed our minds")
        elif fate == "paid twice":
            app.record_payment(order_id, intent + "_b", total, "sek")
        elif fate in ("delivered", "settled", "claimed"):
            delivery = deliver_line(app, cast.workshop, order_id, 1)
            if install and fate != "delivered":
                app.install(cast.area_company, delivery)
            if ready:
                for party in (cast.designer, cast.workshop, cast.area_company):
                    _, link = app.connect_payout_account(party, "https://back/", "https://back/")
                    connect.accounts[link.account_id] = True
                    app.record_account_update(party, link.account_id)
                for payout in app.payouts(app.order(order_id)):
                    app.pay_out(payout.id)
            if fate == "claimed":
                first = app.order(order_id).line(1)
                app.claim_refund(order_id, 1, 1 + claim % (first.amount_ore + first.vat_ore), "claim")
                for payout in app.payouts(app.order(order_id)):
                    app.pay_out(payout.id)
    runtime.projector.catch_up()
    with runtime.database.reader.connect() as views:
        ledger = runtime.view(LedgerView)
        rows = [reconcile(order) for order in ledger.orders_between(views, None, None)]
        entries = ledger.entries_between(views, None, None)
    for row in rows:
        assert row["unexplained_ore"] == 0, row
        assert row["received_ore"] == (row["vat_ore"] + row["platform_fee_ore"] + row["transferred_ore"]
                                       + row["owed_ore"] + row["refunded_ore"] + row["awaiting_delivery_ore"]
                                       + row["refund_due_ore"])  # fmt: skip
    by_order = {row["order_id"]: row for row in rows}
    for order_id in orders:  # the ledger agrees with the provider about what moved
        order = app.order(order_id)
        if order_id in by_order:
            assert by_order[order_id]["received_ore"] == order.paid_ore
            assert by_order[order_id]["refunded_ore"] == sum(connect.refunded(i) for i in order.payments)
            assert by_order[order_id]["transferred_ore"] == connect.transferred(order_id)

    parsed = parse_sie(write_sie(entries, accounts=DEFAULT_ACCOUNTS, company="Värdekedja AB", org_number="559900-0006",
                                 generated=date(2026, 12, 1), year=(date(2026, 1, 1), date(2026, 12, 31)),
                                 version="test"))  # fmt: skip
    assert parsed["labels"]["#FORMAT"] == ["PC8"] and parsed["labels"]["#SIETYP"] == ["4"]
    assert parsed["labels"]["#FNAMN"] == ["Värdekedja AB"]
    assert len(parsed["verifications"]) == len(entries)
    totals: dict[int, int] = defaultdict(int)
    for number, verification in enumerate(parsed["verifications"], start=1):
        assert verification["number"] == number
        assert sum(amount for _, amount in verification["trans"]) == 0, verification
        for account, amount in verification["trans"]:
            assert account in parsed["accounts"]
            totals[account] += amount
    total = {name: sum(row[name] for row in rows) for name in rows[0] if name != "order_id"} if rows else {}
    if rows:
        assert totals[DEFAULT_ACCOUNTS["bank"]] == total["received_ore"] - total["refunded_ore"] - total["transferred_ore"]
        assert -totals[DEFAULT_ACCOUNTS["vat"]] == total["vat_ore"]
        assert -totals[DEFAULT_ACCOUNTS["fee"]] == total["platform_fee_ore"]
        assert -totals[DEFAULT_ACCOUNTS["parties"]] == total["owed_ore"] + total["awaiting_delivery_ore"]
        assert -totals[DEFAULT_ACCOUNTS["refund_due"]] == total["refund_due_ore"]


def test_the_sie_file_is_in_codepage_437_with_quotes_escaped() -> None:
    from datetime import datetime, timezone
    from uuid import uuid4

    entry = {"position": 1, "at": datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc), "order_id": uuid4(),
             "kind": "claim", "reference": 're_"x"', "bank": -125, "vat": -25, "fee": -10, "parties": -90,
             "refund_due": 0}  # fmt: skip
    data = write_sie([entry], accounts={**DEFAULT_ACCOUNTS, "fee": 3041}, company='Åre "Möbler" AB', org_number=None,
                     generated=date(2027, 1, 1), year=(date(2027, 1, 1), date(2027, 12, 31)), version="1")  # fmt: skip
    assert "Å".encode("cp437") in data and b"\xc3" not in data, "not UTF-8"
    parsed = parse_sie(data)
    assert parsed["labels"]["#FNAMN"] == ['Åre "Möbler" AB']
    [verification] = parsed["verifications"]
    assert verification["date"] == "20270101", "dated by the Swedish day (00:30 on 1 January in Stockholm)"
    assert sorted(verification["trans"]) == [(1580, -125), (2611, 25), (2890, 90), (3041, 10)]
    assert 're_"x"' in verification["text"]


def test_an_entry_that_does_not_balance_is_refused() -> None:
    from datetime import datetime, timezone
    from uuid import uuid4

    entry = {"position": 7, "at": datetime(2026, 6, 1, tzinfo=timezone.utc), "order_id": uuid4(), "kind": "refund",
             "reference": "", "bank": -1, "vat": 0, "fee": 0, "parties": 0, "refund_due": 0}  # fmt: skip
    with pytest.raises(ValueError, match="position 7"):
        write_sie([entry], accounts=DEFAULT_ACCOUNTS, company="X", org_number=None, generated=date(2026, 6, 1),
                  year=(date(2026, 1, 1), date(2026, 12, 31)), version="1")  # fmt: skip


def test_the_api_and_the_cli_give_the_reconciliation_and_the_same_sie_file(tmp_path: Any, monkeypatch: Any) -> None:
    from datetime import datetime, timedelta

    from fastapi.testclient import TestClient
    from pydantic import SecretStr
    from typer.testing import CliRunner

    from vardekedja.api import create_app
    from vardekedja.cli import app as cli
    from vardekedja.sie import SWEDEN

    operator = "vk_operator0_" + "b" * 43
    connect = FakeConnect()
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=None, operator_key=SecretStr(operator),
                               sie_accounts={"bank": 1930}), payments=connect)  # type: ignore[arg-type]  # fmt: skip
    try:
        app, cast = runtime.marketplace, register_cast(runtime.marketplace)
        order_id = place_and_pay(app, cast, [LineRequest(published_design(app, cast), 2)], install=False)
        connect.pay("pi_1", app.order(order_id).total_ore)
        deliver_line(app, cast.workshop, order_id, 1)
        with TestClient(create_app(runtime=runtime)) as client:
            headers = {"Authorization": f"Bearer {operator}", "Vardekedja-Min-Position": str(app.position)}
            today = datetime.now(SWEDEN).date()
            answer = client.get("/v1/payouts/reconciliation", params={"from": str(today), "to": str(today)},
                                headers=headers).json()  # fmt: skip
            [row] = answer["orders"]
            assert answer["from"] == str(today) and row["order_id"] == str(order_id)
            assert row["owed_ore"] == sum(p.amount_ore for p in app.payouts(app.order(order_id)))
            assert row["difference_ore"] == row["unexplained_ore"] == 0 and answer["differences"] == []
            assert answer["total"]["received_ore"] == app.order(order_id).total_ore
            tomorrow = str(today + timedelta(days=1))
            assert client.get("/v1/payouts/reconciliation", params={"from": tomorrow},
                              headers=headers).json()["orders"] == []  # fmt: skip
            backwards = client.get("/v1/payouts/reconciliation", params={"from": tomorrow, "to": str(today)}, headers=headers)
            assert backwards.status_code == 422
            sie = client.get("/v1/bookkeeping/sie", params={"from": str(today)}, headers=headers)
            assert sie.status_code == 200 and "attachment" in sie.headers["content-disposition"]
            parsed = parse_sie(sie.content)
            [payment] = parsed["verifications"]
            assert dict(payment["trans"])[1930] == app.order(order_id).total_ore, "the bank account was configured"
            assert client.get("/v1/bookkeeping/sie", headers={"Authorization": headers["Authorization"].replace(
                "b" * 43, "c" * 43)}).status_code == 401  # fmt: skip
        monkeypatch.setenv("VARDEKEDJA_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("VARDEKEDJA_SIE_ACCOUNTS", '{"bank": 1930}')
        target = tmp_path / "books.se"
        result = CliRunner().invoke(cli, ["bookkeeping", "export", "--sie", str(target), "--from", str(today)])
        assert result.exit_code == 0, result.output
        assert "1 verifications" in result.output
        assert parse_sie(target.read_bytes())["verifications"] == parsed["verifications"]
    finally:
        runtime.close()
