"""A real ``vardekedja project`` process (the projector with its settlement follower) killed with SIGKILL after
Stripe made a transfer and before the transfer was recorded; restarted, it makes no second transfer.

The pause sits in the test alone: the first process runs the same command with ``StripeConnect.transfer``
wrapped so that, once the stand-in has answered, it writes the transfer's id to a file and waits for ever
(the follower's thread holds there; nothing is recorded). The test then kills the process. The second
process is the plain command: it asks Stripe again with the payout's idempotency key, gets the same transfer
back, and records it. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.chain import published_design, register_cast
from tests.conftest import create_postgres_schema, drop_postgres_schema
from tests.e2e.server import _die_with_parent, clean_environment, vardekedja
from tests.integration.test_payments_localstripe import OPERATOR_KEY, WAIT, ServerThread
from tests.integration.test_settlement_localstripe import Settle
from tests.payments_support import WEBHOOK_PATH, wait_until
from vardekedja.api import create_app
from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

pytestmark = pytest.mark.slow

# ``vardekedja project`` with the transfer call held after Stripe's answer (argv[1:] are the command's).
HELD_AFTER_TRANSFER = """
import os, sys, threading
from pathlib import Path
from vardekedja.stripe_connect import StripeConnect

made_by_stripe = StripeConnect.transfer

def transfer(self, **kwargs):
    made = made_by_stripe(self, **kwargs)
    Path(os.environ["HELD_TRANSFER_FILE"]).write_text(made.id)
    threading.Event().wait()  # Stripe has answered; the record never comes: the process is killed here

StripeConnect.transfer = transfer
from vardekedja.cli import main
sys.argv = ["vardekedja", *sys.argv[1:]]
main()
"""


@pytest.fixture
def stand_in() -> Iterator[LocalStripe]:
    with LocalStripe() as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Where the events and views live: the settings for it (none for SQLite in the data folder)."""
    if request.param == "sqlite":
        yield {}
        return
    url = request.getfixturevalue("postgres_url")
    schema = create_postgres_schema(url)
    try:
        yield {"VARDEKEDJA_DATABASE_URL": url, "VARDEKEDJA_DATABASE_SCHEMA": schema}
    finally:
        drop_postgres_schema(url, schema)


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)  # fmt: skip


def test_a_follower_killed_between_the_transfer_and_its_record_makes_exactly_one_transfer_after_restart(
        stand_in: LocalStripe, database: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    data = tmp_path / "var"
    settings = Settings(
        data_dir=data, database_url=database.get("VARDEKEDJA_DATABASE_URL"),
        database_schema=database.get("VARDEKEDJA_DATABASE_SCHEMA", "public"), operator_key=SecretStr(OPERATOR_KEY),
        stripe_secret_key=SecretStr(SECRET_KEY), stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_webhook_secret=SecretStr(stand_in.webhook_secret), stripe_api_base=stand_in.base, settle_payouts=False,
    )  # fmt: skip
    runtime = Runtime(settings)
    processes: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "project.log"
    try:
        # A paid, delivered order whose designer can receive money: one transfer is due.
        server = ServerThread(create_app(runtime=runtime)).start()
        try:
            cast = register_cast(runtime.marketplace)
            stand_in.register_webhook(server.url + WEBHOOK_PATH)
            with httpx.Client(base_url=server.url, timeout=WAIT) as http:
                settle = Settle(runtime, cast, published_design(runtime.marketplace, cast), stand_in, http,
                                {"Authorization": f"Bearer {OPERATOR_KEY}"})  # fmt: skip
                settle.onboard(cast.designer)
                order_id = settle.paid_order(quantity=1)
                settle.settle_lines(order_id, install=False)
        finally:
            server.stop()  # its projector lets go of the lock; the processes below take it

        def designer_payout() -> Any:
            return settle.payouts(order_id)["designer"]

        env = clean_environment(
            data, STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
            STRIPE_WEBHOOK_SECRET=stand_in.webhook_secret, STRIPE_API_BASE=stand_in.base,
            VARDEKEDJA_PAYOUT_RETRY_SECONDS="0.05", HELD_TRANSFER_FILE=str(tmp_path / "held"), **database,
        )  # fmt: skip
        held = _start([sys.executable, "-c", HELD_AFTER_TRANSFER, "project", "--poll-interval", "0.1"], env, log)
        processes.append(held)
        made = wait_until(lambda: (tmp_path / "held").exists() and (tmp_path / "held").read_text(), timeout=60,
                          what=f"the first process to make the transfer:\n{log.read_text()}")  # fmt: skip
        assert [t.id for t in settle.transfers(order_id)] == [made], "Stripe made the transfer"
        os.kill(held.pid, signal.SIGKILL)
        assert held.wait(timeout=WAIT) == -signal.SIGKILL
        assert designer_payout().transfer_id is None, "killed before the record"

        restarted = _start([vardekedja(), "project", "--poll-interval", "0.1"], env, log)
        processes.append(restarted)
        wait_until(lambda: designer_payout().transfer_id is not None, timeout=60,
                   what=f"the restarted process to record the transfer:\n{log.read_text()}")  # fmt: skip
        assert [t.id for t in settle.transfers(order_id)] == [made], "exactly one transfer"
        payout = designer_payout()
        assert (payout.transfer_id, payout.status, payout.failures) == (made, "transferred", 0)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=WAIT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        runtime.close()
