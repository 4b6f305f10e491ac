"""Helpers for the audit tests: a runtime with a known history, exports to tamper with, an auditor's client.

The runtime runs no projector of its own (``embedded_projector=False``): a test
chains and projects exactly when it calls ``catch_up()``, so what the chain has
seen is never a matter of timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.chain import SITE, Cast, paid_order, published_design, register_cast, window
from tests.conftest import RecordingRefunds, create_postgres_schema, drop_postgres_schema
from vardekedja.api import create_app
from vardekedja.audit.encoding import GENESIS, canonical, chain, checkpoint_message
from vardekedja.audit.keys import public_key_text
from vardekedja.audit.log import export
from vardekedja.domain.order import LineRequest
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import production_order_id
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

AUDITOR_ORG_NUMBER = "556677-8899"


@contextmanager
def audited_runtime(backend: str, folder: Path, postgres_url: str | None = None) -> Iterator[Runtime]:
    """A runtime on a fresh store (a new folder on SQLite, a new schema on PostgreSQL), closed afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = create_postgres_schema(postgres_url) if backend == "postgres" and postgres_url else None
    if backend == "postgres" and schema is None:
        raise ValueError("PostgreSQL needs its URL")
    settings = Settings(data_dir=folder, database_url=postgres_url if schema else None,
                        database_schema=schema or "public", embedded_projector=False)  # fmt: skip
    runtime = Runtime(settings, payments=RecordingRefunds())
    try:
        yield runtime
    finally:
        runtime.close()
        if schema is not None:
            assert postgres_url is not None
            drop_postgres_schema(postgres_url, schema)


@dataclass
class History:
    """What ``build_history`` made, by name."""

    cast: Cast
    auditor: UUID
    auditor_key: str
    design: UUID
    fulfilled: UUID  # paid, made, delivered and installed
    fulfilled_without_install: UUID
    in_production: UUID  # paid, accepted and started
    cancelled: UUID  # paid, then cancelled and refunded
    unpaid: UUID  # placed only

    @property
    def orders(self) -> list[UUID]:
        return [self.fulfilled, self.fulfilled_without_install, self.in_production, self.cancelled, self.unpaid]


def take_through_the_chain(runtime: Runtime, cast: Cast, order_id: UUID, *, install: bool = True) -> None:
    """Make, deliver (and install) line 1 of a paid order."""
    app = runtime.marketplace
    production = production_order_id(order_id, 1)
    app.accept_production(cast.workshop, production)
    app.start_production(cast.workshop, production)
    app.complete_production(cast.workshop, production, 6.5, "klar")
    delivery = app.delivery_for(order_id, 1).id
    earliest, latest = window()
    app.schedule_delivery(cast.workshop, delivery, earliest, latest)
    app.dispatch_delivery(cast.workshop, delivery)
    app.deliver(cast.workshop, delivery, "Fastighetsskötaren")
    if install:
        app.install(cast.area_company, delivery)


def build_history(runtime: Runtime) -> History:
    """About a hundred events through the application: every kind of order the money check must add up."""
    app = runtime.marketplace
    cast = register_cast(app)
    auditor = app.register_organisation(name="Revisionsbyrån Norr", role="auditor", org_number=AUDITOR_ORG_NUMBER,
                                        municipality="Stockholm")  # fmt: skip
    design = published_design(app, cast)
    fulfilled = paid_order(app, cast, design, quantity=2)
    take_through_the_chain(runtime, cast, fulfilled)
    without_install = paid_order(app, cast, design, quantity=1, install=False)
    take_through_the_chain(runtime, cast, without_install, install=False)
    in_production = paid_order(app, cast, design, quantity=3)
    app.accept_production(cast.workshop, production_order_id(in_production, 1))
    app.start_production(cast.workshop, production_order_id(in_production, 1))
    cancelled = paid_order(app, cast, design, quantity=1)
    app.cancel_order(cast.buyer, cancelled, "fel modell")
    unpaid = app.place_order(cast.buyer, SITE, True, [LineRequest(design, 4)]).id
    assert app.order(fulfilled).status == "fulfilled"
    assert app.order(without_install).status == "fulfilled"
    assert app.order(cancelled).status == "cancelled" and app.order(cancelled).refunded_ore > 0
    return History(cast, auditor.organisation_id, auditor.api_key, design, fulfilled, without_install,
                   in_production, cancelled, unpaid)  # fmt: skip


def export_to(runtime: Runtime, path: Path, *, after: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as out:
        export(runtime.audited_log, out, after=after)
    return path


def public_key(runtime: Runtime) -> str:
    assert runtime.chain.signing_key is not None
    return public_key_text(runtime.chain.signing_key)


def signing_key(runtime: Runtime) -> Ed25519PrivateKey:
    assert runtime.chain.signing_key is not None
    return runtime.chain.signing_key


# Export files as lists of lines.


class ExportFile:
    """An export's lines, to change and write back: the header, the events, then the checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_text(encoding="utf-8").splitlines()

    @property
    def header(self) -> dict[str, Any]:
        return json.loads(self.lines[0])  # type: ignore[no-any-return]

    def events(self) -> list[dict[str, Any]]:
        return [item["event"] for item in map(json.loads, self.lines[1:]) if "event" in item]

    def checkpoints(self) -> list[dict[str, Any]]:
        return [item["checkpoint"] for item in map(json.loads, self.lines[1:]) if "checkpoint" in item]

    def index_of(self, position: int) -> int:
        """The line number (0 is the header) of the event at a position."""
        for number, line in enumerate(self.lines[1:], start=1):
            item = json.loads(line)
            if "event" in item and item["event"]["position"] == position:
                return number
        raise KeyError(position)

    def event(self, position: int) -> dict[str, Any]:
        return json.loads(self.lines[self.index_of(position)])["event"]  # type: ignore[no-any-return]

    def position_of(self, stream_id: UUID, type_suffix: str) -> int:
        for event in self.events():
            if event["stream_id"] == str(stream_id) and event["type"].endswith(type_suffix):
                return int(event["position"])
        raise KeyError((stream_id, type_suffix))

    def payout_position(self, order_id: UUID, role: str) -> int:
        """Where the payout owed to a role for line 1 of an order is (its stream is the payout's, not the order's)."""
        for event in self.events():
            data = event["data"]
            if event["type"].endswith("Payout.Owed") and data["order_id"]["_data_"] == order_id.hex \
                    and data["role"] == role:  # fmt: skip
                return int(event["position"])
        raise KeyError((order_id, role))

    def replace_event(self, event: dict[str, Any]) -> None:
        self.lines[self.index_of(event["position"])] = event_line(event)

    def set_checkpoints(self, checkpoints: list[dict[str, Any]]) -> None:
        self.lines = [line for line in self.lines if "checkpoint" not in json.loads(line)]
        self.lines += [json.dumps({"checkpoint": checkpoint}) for checkpoint in checkpoints]

    def rehash_from(self, position: int) -> None:
        """Recompute every hash from a position on, as an attacker who knows the (public) algorithm can."""
        previous = GENESIS if position <= 1 else self.event(position - 1)["hash"]
        for number, line in enumerate(self.lines[1:], start=1):
            item = json.loads(line)
            if "event" not in item or item["event"]["position"] < position:
                continue
            event = item["event"]
            event["hash"] = previous = link(previous, event)
            self.lines[number] = event_line(event)

    def write(self, path: Path | None = None) -> Path:
        target = path or self.path
        target.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return target


def event_line(event: dict[str, Any]) -> str:
    return json.dumps({"event": event}, ensure_ascii=False, separators=(",", ":"))


def link(previous: str, event: dict[str, Any]) -> str:
    """The hash an event gets in the chain after ``previous``."""
    return chain(previous, canonical(event["position"], event["stream_id"], event["version"], event["type"],
                                     event["time"], event["data"]))  # fmt: skip


def signed_checkpoint(key: Ed25519PrivateKey, position: int, head: str) -> dict[str, Any]:
    return {"position": position, "head": head, "signature": key.sign(checkpoint_message(position, head)).hex(),
            "signed_at": "2026-12-01T12:00:00+00:00"}  # fmt: skip


def forged_payout_event(runtime: Runtime, order_id: UUID, party_id: UUID, amount_ore: int) -> Any:
    """A well-formed stored Payout.Owed that no command made (not saved): what an attacker would write."""
    payout = Payout(order_id=order_id, line_no=9, party_id=party_id, role="workshop", amount_ore=amount_ore,
                    reason="production: 1 × Parkbänk Fittja")  # fmt: skip
    (event,) = payout.collect_events()
    return runtime.marketplace.mapper.to_stored_event(event)


# The API as the auditor.


@contextmanager
def api_client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=True) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
