"""A shop for payment tests: one buyer, one published bench, and the app with an offline Stripe behind it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import api_settings
from tests.chain import SITE, published_design, register_cast
from tests.payments_support import WEBHOOK_PATH, OfflineStripe, intent_event, signed
from vardekedja.api import create_app
from vardekedja.runtime import Runtime

PUBLISHABLE_KEY = "pk_test_offline"


@dataclass
class Shop:
    """The app over HTTP (in process), its runtime, its offline Stripe, and the buyer's key."""

    client: TestClient
    runtime: Runtime
    stripe: OfflineStripe
    buyer: dict[str, str]
    design_id: UUID

    @property
    def position(self) -> int:
        return self.runtime.marketplace.position

    def place(self, quantity: int = 2) -> UUID:
        body = {
            "delivery_site": {"name": SITE.name, "street": SITE.street, "postal_code": SITE.postal_code,
                              "municipality": SITE.municipality},
            "install": True,
            "lines": [{"design_id": str(self.design_id), "quantity": quantity}],
        }  # fmt: skip
        response = self.client.post("/v1/orders", json=body, headers=self.buyer)
        assert response.status_code == 201, response.text
        return UUID(response.json()["id"])

    def checkout(self, order_id: UUID) -> dict[str, Any]:
        response = self.client.post(f"/v1/orders/{order_id}/checkout", headers=self.buyer)
        assert response.status_code == 200, response.text
        return response.json()

    def deliver(self, event: dict[str, Any] | str, **signing: Any) -> Any:
        body, headers = signed(event, self.stripe.webhook_secret or "", **signing)
        return self.client.post(WEBHOOK_PATH, content=body, headers=headers)

    def order(self, order_id: UUID) -> dict[str, Any]:
        """The order as the buyer reads it, once the views have caught up with every event so far."""
        headers = {**self.buyer, "Vardekedja-Min-Position": str(self.position)}
        response = self.client.get(f"/v1/orders/{order_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def paid_event(self, order_id: UUID, checkout: dict[str, Any], **changes: Any) -> dict[str, Any]:
        values = {"payment_intent_id": checkout["payment_intent_id"], "order_id": order_id,
                  "amount_ore": checkout["amount_ore"], **changes}  # fmt: skip
        return intent_event("succeeded", **values)


@contextmanager
def open_shop(storage: str, path: Path, request: pytest.FixtureRequest, **settings_changes: Any) -> Iterator[Shop]:
    """A shop on 'sqlite' or 'postgres' (see ``tests.api.conftest.api_settings``), closed on exit."""
    gateway = OfflineStripe("whsec_" + secrets.token_hex(16))
    settings = api_settings(storage, path, request).model_copy(
        update={"stripe_publishable_key": PUBLISHABLE_KEY, **settings_changes}
    )
    runtime = Runtime(settings, payments=gateway)
    try:
        app = runtime.marketplace
        cast = register_cast(app)
        design_id = published_design(app, cast)
        buyer = {"Authorization": f"Bearer {app.issue_api_key(cast.buyer).api_key}"}
        with TestClient(create_app(runtime=runtime)) as client:
            yield Shop(client, runtime, gateway, buyer, design_id)
    finally:
        runtime.close()
