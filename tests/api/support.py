"""Helpers for API tests: parties that call the app with their own key, read-your-writes, and sample bodies.

Every command's response says where its last event stands (``Vardekedja-Position``);
an ``Api`` remembers the highest position it has seen and sends it as
``Vardekedja-Min-Position`` on every GET, so a read after a write always sees it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from fastapi.testclient import TestClient

from tests.chain import BENCH, SITE, window
from vardekedja.runtime import Runtime

POSITION = "Vardekedja-Position"
MIN_POSITION = "Vardekedja-Min-Position"

_serial = itertools.count(1)
_serial_lock = threading.Lock()


def org_number() -> str:
    """A fresh, valid Swedish organisation number (Luhn check digit), unique within the test run."""
    with _serial_lock:
        serial = next(_serial)
    digits = f"55{serial:07d}"
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    check = (10 - total % 10) % 10
    return f"{digits[:6]}-{digits[6:]}{check}"


def design_body(**changes: Any) -> dict[str, Any]:
    """The sample bench as a request body, with any field replaced."""
    body: dict[str, Any] = {
        "title": BENCH.title,
        "description": BENCH.description,
        "category": BENCH.category,
        "materials": list(BENCH.materials),
        "dimensions_mm": {"width": BENCH.width_mm, "depth": BENCH.depth_mm, "height": BENCH.height_mm},
        "weight_kg": BENCH.weight_kg,
        "required_capabilities": list(BENCH.required_capabilities),
        "lead_time_days": BENCH.lead_time_days,
        "licence": BENCH.licence,
        "royalty_ore": BENCH.royalty_ore,
        "production_fee_ore": BENCH.production_fee_ore,
        "installation_fee_ore": BENCH.installation_fee_ore,
        "co2e_kg": BENCH.co2e_kg,
    }
    body.update(changes)
    return body


def site_body(municipality: str = SITE.municipality) -> dict[str, str]:
    return {"name": SITE.name, "street": SITE.street, "postal_code": SITE.postal_code, "municipality": municipality}


def order_body(*lines: tuple[UUID | str, int], install: bool = True, municipality: str = SITE.municipality,
               ) -> dict[str, Any]:  # fmt: skip
    return {
        "delivery_site": site_body(municipality),
        "install": install,
        "lines": [{"design_id": str(design_id), "quantity": quantity} for design_id, quantity in lines],
    }


def schedule_body() -> dict[str, str]:
    earliest, latest = window()
    return {"earliest": earliest.isoformat(), "latest": latest.isoformat()}


class Api:
    """The app through a TestClient, remembering the highest position any command answered with."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self.position = 0
        self._lock = threading.Lock()

    def saw(self, position: int) -> None:
        with self._lock:
            self.position = max(self.position, position)

    def request(self, method: str, path: str, key: str | None = None, *, json: Any = None,
                headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                content: bytes | None = None) -> httpx.Response:  # fmt: skip
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if method == "GET":
            sent.setdefault(MIN_POSITION, str(self.position))
        response = self.client.request(method, path, json=json, headers=sent, params=params, content=content)
        if method != "GET" and POSITION in response.headers:
            self.saw(int(response.headers[POSITION]))
        return response

    def caught_up(self) -> None:
        """Remember the event store's head (after setting things up through the application)."""
        self.saw(self.runtime.marketplace.position)


@dataclass
class Party:
    """One organisation calling the API with its key."""

    api: Api
    id: UUID
    role: str
    name: str
    key: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.request("GET", path, self.key, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.api.request("POST", path, self.key, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.api.request("PUT", path, self.key, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.request("DELETE", path, self.key, **kwargs)


def operator_party(api: Api, key: str) -> Party:
    response = api.request("GET", "/v1/me", key)
    assert response.status_code == 200, response.text
    return Party(api, UUID(response.json()["id"]), "operator", response.json()["name"], key)


def register(operator: Party, role: str, name: str, *, municipality: str = "Botkyrka",
             capabilities: list[str] | None = None, service_area: list[str] | None = None) -> Party:  # fmt: skip
    """The operator registers an organisation over HTTP; the party uses its one-time key."""
    response = operator.post("/v1/organisations", json={
        "name": name, "role": role, "org_number": org_number(), "municipality": municipality,
        "capabilities": capabilities or [], "service_area": service_area or [],
    })  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    return Party(operator.api, UUID(body["id"]), role, name, body["api_key"])


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have the given status (the body is shown when not)."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    return response.json()  # type: ignore[no-any-return]


def payment_provider_confirms(api: Api, order_id: UUID | str) -> None:
    """Stands in for the payment provider confirming the buyer's payment of the order's total.

    The application records the checkout and the confirmed payment directly, as
    the signed webhook does (tests about payments themselves go through Stripe's
    stand-in or signed webhook payloads; these are about what comes after).
    """
    marketplace = api.runtime.marketplace
    order = marketplace.order(UUID(str(order_id)))
    intent = f"pi_test_{order.id.hex[:16]}"
    marketplace.start_checkout(order.buyer_id, order.id, intent)
    api.saw(marketplace.record_payment(order.id, intent, order.total_ore, "sek").position)


@dataclass
class Cast:
    """One party per role (two designers and two workshops), registered over HTTP by the operator."""

    operator: Party
    designer: Party
    other_designer: Party
    workshop: Party
    other_workshop: Party
    area_company: Party
    buyer: Party
    other_buyer: Party
    auditor: Party


def enrol(operator: Party, role: str, name: str, *, municipality: str = "Botkyrka",
          capabilities: list[str] | None = None, service_area: list[str] | None = None) -> Party:  # fmt: skip
    """Register an organisation through the application: quicker than HTTP, for tests about something else."""
    issued = operator.api.runtime.marketplace.register_organisation(
        name=name, role=role, org_number=org_number(), municipality=municipality,
        capabilities=capabilities or [], service_area=service_area or [],
    )  # fmt: skip
    operator.api.saw(issued.position)
    return Party(operator.api, issued.organisation_id, role, name, issued.api_key)


def register_cast(api: Api, operator_key: str, *, over_http: bool = False) -> Cast:
    """Workshops serve Botkyrka (the sample site) and one of them Huddinge too; the area company only Botkyrka.

    ``over_http`` has the operator register each party through the API, as in production;
    otherwise the application registers them, which is quicker.
    """
    operator = operator_party(api, operator_key)
    add = register if over_http else enrol
    return Cast(
        operator=operator,
        designer=add(operator, "designer", "Studio Allmänning"),
        other_designer=add(operator, "designer", "Formgruppen Alby"),
        workshop=add(operator, "workshop", "Fittja Snickeri", capabilities=["carpentry", "welding"],
                     service_area=["Botkyrka", "Huddinge"]),
        other_workshop=add(operator, "workshop", "Alby Smide", capabilities=["welding", "carpentry", "cnc"],
                           service_area=["Botkyrka"]),
        area_company=add(operator, "area_company", "Botkyrka Områdesföretag", service_area=["Botkyrka"]),
        buyer=add(operator, "buyer", "Botkyrkabyggen"),
        other_buyer=add(operator, "buyer", "Huddinge Bostäder", municipality="Huddinge"),
        auditor=add(operator, "auditor", "Revisionsbyrån Norr", municipality="Stockholm"),
    )  # fmt: skip


def publish(designer: Party, **changes: Any) -> dict[str, Any]:
    """Draft and publish a design over HTTP; return the published design."""
    drafted = ok(designer.post("/v1/designs", json=design_body(**changes)), 201)
    return ok(designer.post(f"/v1/designs/{drafted['id']}/publish"))


def place(buyer: Party, *lines: tuple[UUID | str, int], install: bool = True, municipality: str = "Botkyrka",
          ) -> dict[str, Any]:  # fmt: skip
    return ok(buyer.post("/v1/orders", json=order_body(*lines, install=install, municipality=municipality)), 201)
