"""`vardekedja init` and `vardekedja demo` as `make run` runs them, again and again."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from vardekedja.application import Marketplace
from vardekedja.cli import app as cli
from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from vardekedja.projections.payouts import PayoutsView
from vardekedja.projections.settlement import SettlementView
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

LINE = re.compile(r"^  (\S.*?)\s{2,}(\S.*?)\s{2,}(vk_\S+)$", re.MULTILINE)


def run(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"VARDEKEDJA_DATA_DIR": str(folder), "VARDEKEDJA_DATABASE_URL": "",
                                                      "VARDEKEDJA_OPERATOR_KEY": ""})  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def printed_keys(output: str) -> dict[str, tuple[str, str]]:
    return {name: (role, key) for name, role, key in LINE.findall(output)}


def active_keys(folder: Path) -> dict[str, int]:
    app = Marketplace(Settings(data_dir=folder, database_url=None).event_store_env())
    try:
        organisations = [app.organisation(item.organisation_id) for item in app.directory().listings.values()]
        return {organisation.name: len(organisation.api_keys) for organisation in organisations}
    finally:
        app.close()


def test_the_demo_prints_the_role_beside_each_organisation(tmp_path: Path) -> None:
    keys = printed_keys(run(tmp_path, "demo"))

    assert keys["Hovsjö Gårdar"][0] == "area company"
    assert keys["Botkyrkabyggen"][0] == "buyer" and keys["Järva Verkstad"][0] == "workshop"
    assert len(keys) == 10


def test_running_the_demo_again_reuses_its_keys_instead_of_piling_up_new_ones(tmp_path: Path) -> None:
    first = printed_keys(run(tmp_path, "demo"))
    second_output = run(tmp_path, "demo")
    second = printed_keys(second_output)

    assert second == first
    assert "10 of 10 keys reused" in second_output
    assert set(active_keys(tmp_path).values()) == {1}
    kept = tmp_path / "demo-keys.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_demo_key_revoked_meanwhile_is_replaced_and_only_that_one(tmp_path: Path) -> None:
    first = printed_keys(run(tmp_path, "demo"))
    app = Marketplace(Settings(data_dir=tmp_path, database_url=None).event_store_env())
    try:
        buyer = next(item for item in app.directory().listings.values() if item.org_number == "556030-7885")
        app.revoke_api_key(buyer.organisation_id, first["Botkyrkabyggen"][1].split("_")[1])
    finally:
        app.close()

    again = printed_keys(run(tmp_path, "demo"))

    assert again["Botkyrkabyggen"] != first["Botkyrkabyggen"]
    assert {name: key for name, key in again.items() if name != "Botkyrkabyggen"} == {
        name: key for name, key in first.items() if name != "Botkyrkabyggen"
    }


def test_init_again_issues_no_further_operator_key_unless_asked(tmp_path: Path) -> None:
    first = run(tmp_path, "init")
    again = run(tmp_path, "init")
    asked = run(tmp_path, "init", "--new-key")

    assert re.search(r"^operator key\s+vk_\S+$", first, re.MULTILINE)
    assert "vk_" not in again and "--new-key" in again
    assert re.search(r"^operator key\s+vk_\S+$", asked, re.MULTILINE)
    assert active_keys(tmp_path)["Värdekedja operator"] == 2


@pytest.mark.slow
def test_the_demo_paid_at_the_local_stand_in_has_its_payouts_transferred_once_served(tmp_path: Path) -> None:
    """`make run`: `demo --local-stripe`, then `serve --local-stripe` starts the stand-in from the same file."""
    first = run(tmp_path, "demo", "--local-stripe")
    assert "demo data seeded" in first and "paid by card at the local Stripe stand-in" in first
    again = run(tmp_path, "demo", "--local-stripe")
    assert printed_keys(again) == printed_keys(first) and "already there" in again
    with LocalStripe(state=tmp_path / "local-stripe.pickle") as stand_in:
        settings = Settings(
            data_dir=tmp_path, database_url=None, stripe_secret_key=SecretStr(SECRET_KEY),
            stripe_publishable_key=PUBLISHABLE_KEY, stripe_webhook_secret=SecretStr(stand_in.webhook_secret),
            stripe_api_base=stand_in.base,
        )  # fmt: skip
        runtime = Runtime(settings)
        try:
            app = runtime.marketplace
            orders = [app.order(UUID(o)) for o in re.findall(r"^  order \S+(?: \S+)?\s+(\S+)$", first, re.MULTILINE)]
            paid = [order for order in orders if order.paid_payment_intent_id is not None]
            assert len(paid) == 3 and all(o.paid_payment_intent_id.startswith("pi_") for o in paid)
            assert not any("demo" in o.paid_payment_intent_id for o in paid), "paid at the stand-in, not made up"
            runtime.projector.catch_up()
            assert dict(runtime.settlement.run_once()) == {"transferred": 6}, "the fulfilled order's six payouts"
            runtime.projector.catch_up()
            with runtime.database.reader.connect() as connection:
                listed = runtime.view(PayoutsView).list(connection, limit=50).items
                failing = runtime.view(SettlementView).failing(connection)
            assert len(listed) == 6 and {row["status"] for row in listed} == {"transferred"} and failing == []
            made = app.payments.client.v1.transfers.list(params={"limit": 100}).data
            assert sorted(t.id for t in made) == sorted(row["transfer_id"] for row in listed)
        finally:
            runtime.close()


def test_the_demo_without_the_stand_in_opens_no_payout_accounts(tmp_path: Path) -> None:
    """Its payments were never sent to a provider: a transfer from them could only fail, so none is tried."""
    run(tmp_path, "demo")
    app = Marketplace(Settings(data_dir=tmp_path, database_url=None).event_store_env())
    try:
        assert all(app.payout_account(item.organisation_id) is None for item in app.listed().listings.values())
    finally:
        app.close()


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["init"], ["demo"]])
def test_a_malformed_operator_key_in_the_environment_is_refused_in_words_before_anything_starts(
    tmp_path: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, command, env={"VARDEKEDJA_DATA_DIR": str(tmp_path), "VARDEKEDJA_DATABASE_URL": "",
                                                   "VARDEKEDJA_OPERATOR_KEY": "opkey-1234567890abcdef"})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "VARDEKEDJA_OPERATOR_KEY" in result.output and "vk_<id>_<secret" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []  # nothing was written


@pytest.mark.parametrize("name", ["VARDEKEDJA_REPORT_RATE_LIMIT", "VARDEKEDJA_PUBLIC_READ_RATE_LIMIT"])
def test_a_rate_limit_that_is_no_rate_is_refused_in_words_before_the_server_starts(tmp_path: Path, name: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env={
        "VARDEKEDJA_DATA_DIR": str(tmp_path), "VARDEKEDJA_DATABASE_URL": "", "VARDEKEDJA_OPERATOR_KEY": "",
        name: "ten a minute"})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert name.removeprefix("VARDEKEDJA_").lower() in result.output and "10/minute" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
