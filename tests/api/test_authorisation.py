"""Who may call what: one expected answer for every v1 route × caller × (own | another party's) resource.

The table below is checked against the app's own route list, so a new route
without an entry fails the suite. Each case makes a fresh target in the state
its route needs (through the application, which is quicker than HTTP), owned
by the caller ("own") or by a second organisation of the same role ("other"),
so a success path really succeeds and no case depends on another.

Conventions checked in every case: 401 for no key or a bad one, 403 for the
wrong role, 404 for another party's resource, a problem document for every
error, nothing written by a refused request, and ``Vardekedja-Position`` equal
to the event store's head on every successful command.

People signed in call with their session cookie (and the CSRF header on
writes) and act with their organisation's role: each role's row is checked for
a person of that role too ("designer (person)"), with the same answers as its
API key; an ended session gets 401 like a bad key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union
from uuid import UUID

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    POSITION,
    Api,
    Party,
    design_body,
    operator_party,
    org_number,
    payment_provider_confirms,
    register,
    schedule_body,
    site_body,
)
from tests.chain import BENCH, window
from vardekedja.api import create_app
from vardekedja.api.route_guards import declared_routes
from vardekedja.api.sessions import COOKIE
from vardekedja.application import PaymentIntent
from vardekedja.domain.asset import asset_id
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.domain.order import DeliverySite, LineRequest
from vardekedja.domain.organisation import Role
from vardekedja.domain.production import production_order_id
from vardekedja.media import MediaStore
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.stripe_gateway import StripeGateway

ROLES = ("operator", "designer", "workshop", "buyer", "area_company", "auditor")
PERSON = " (person)"
PEOPLE = tuple(role + PERSON for role in ROLES)
STRANGERS = ("anonymous", "bad_key", "ended_session")
BAD_KEY = "vk_0123456789abcdef_" + "x" * 43
WEBHOOK_SECRET = "whsec_authorisation_table"
WEBHOOK = "/v1/payments/stripe/webhook"
MUNICIPALITY = {0: "Botkyrka", 1: "Huddinge"}  # each area company serves one of them; workshops serve both

SEEN = "200, and the target is listed"
UNSEEN = "200, and the target is not listed"
Expected = Union[int, str]  # noqa: UP007 - a status, SEEN or UNSEEN
Expectation = Union[Expected, tuple[Expected, Expected]]  # noqa: UP007 - one answer, or (own, other)


# The world: two organisations per role, each area company serving its own municipality.


class FakeStripe(StripeGateway):
    """Stripe as far as checkout and the webhook need it, without the network."""

    def __init__(self) -> None:
        super().__init__("sk_test_authorisation_table", WEBHOOK_SECRET)
        self.intents: dict[str, PaymentIntent] = {}

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str,
                              idempotency_key: str) -> PaymentIntent:  # fmt: skip
        intent_id = f"pi_{uuid.uuid4().hex[:20]}"
        intent = PaymentIntent(intent_id, f"{intent_id}_secret_test", amount_ore, currency, "requires_payment_method")
        self.intents[intent_id] = intent
        return intent

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        return self.intents.get(payment_intent_id)

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        return f"re_{uuid.uuid4().hex[:20]}"

    def create_account(self, organisation_id: UUID, country: str, idempotency_key: str) -> str:
        return f"acct_{uuid.uuid4().hex[:16]}"

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        return f"https://connect.stripe.test/setup/{account_id}"


def signed_webhook(order_id: UUID, amount_ore: int) -> tuple[bytes, str]:
    """A payment_intent.succeeded event for the order, signed as Stripe signs it."""
    intent = f"pi_{uuid.uuid4().hex[:20]}"
    payload = json.dumps({
        "id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount_ore,
                            "amount_received": amount_ore, "currency": "sek",
                            "metadata": {"order_id": str(order_id)}}},
    }).encode()  # fmt: skip
    stamp = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={signature}"


@dataclass
class World:
    api: Api
    parties: dict[str, list[Party]]
    designs: dict[UUID, UUID] = field(default_factory=dict)  # designer id -> a published design of theirs
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # caller -> the headers of its session

    @property
    def marketplace(self) -> Any:
        return self.api.runtime.marketplace

    def caller(self, role: str) -> Party:
        return self.parties[role][0]

    def index(self, party: Party) -> int:
        return self.parties[party.role].index(party)


Who = Callable[[str], Party]


def picker(world: World, role: str | None, side: str) -> Who:
    """Who owns each part of the target: the caller itself for its own role's part when "own", else a second party."""

    def who(part: str) -> Party:
        part = (role if role in ROLES else "buyer") if part == "self" else part
        if side == "own" and part == role:
            return world.caller(part)
        return world.parties[part][1]

    return who


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("authorisation"), database_url=None,
                        operator_key=OPERATOR_KEY)  # fmt: skip
    runtime = Runtime(settings, payments=FakeStripe())
    with TestClient(create_app(runtime=runtime)) as client:
        api = Api(client, runtime)
        operator = operator_party(api, OPERATOR_KEY)
        crafts = {"capabilities": ["carpentry", "welding"], "service_area": list(MUNICIPALITY.values())}
        parties = {
            "operator": [operator, register(operator, "operator", "Värdekedja Syd")],
            "designer": [register(operator, "designer", f"Studio {n}") for n in range(2)],
            "workshop": [register(operator, "workshop", f"Verkstad {n}", **crafts) for n in range(2)],  # type: ignore[arg-type]
            "buyer": [register(operator, "buyer", f"Bostadsbolag {n}") for n in range(2)],
            "area_company": [register(operator, "area_company", f"Områdesföretag {n}", service_area=[MUNICIPALITY[n]])
                             for n in range(2)],
            "auditor": [register(operator, "auditor", f"Revisor {n}", municipality="Stockholm") for n in range(2)],
        }  # fmt: skip
        world = World(api, parties)
        for designer in parties["designer"]:
            world.designs[designer.id] = published_design(world, designer)
        for role in ROLES:
            world.sessions[role + PERSON] = signed_in(world, world.caller(role))
        world.sessions["ended_session"] = signed_in(world, world.caller("buyer"))
        client.app.state.sessions.end(world.sessions["ended_session"]["Cookie"].split("=", 1)[1])
        yield world
    runtime.close()


def signed_in(world: World, party: Party) -> dict[str, str]:
    """A member of the party who joined and signed in: the headers their browser sends (cookie, CSRF token)."""
    marketplace = world.marketplace
    invitation = marketplace.invite_person(party.id, name=f"Member of {party.name}",
                                           email=f"{uuid.uuid4().hex[:12]}@example.se", language="en")  # fmt: skip
    marketplace.join_person(invitation.person_id, token=invitation.token, password_hash="argon2-not-checked-here")
    token, session = world.api.client.app.state.sessions.start(  # type: ignore[attr-defined]
        person_id=invitation.person_id, organisation_id=party.id, role=Role(party.role),
        organisation_name=party.name,
    )  # fmt: skip
    world.api.caught_up()
    return {"Cookie": f"{COOKIE}={token}", "X-CSRF-Token": session.csrf_token}


# Targets, made through the application in the state each route needs.


@dataclass
class Target:
    path: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    listed: tuple[str, str] | None = None  # (item field, value) that marks the target in a list


def draft_design(world: World, designer: Party) -> UUID:
    return world.marketplace.draft_design(designer.id, BENCH).id  # type: ignore[no-any-return]


def published_design(world: World, designer: Party) -> UUID:
    design_id = draft_design(world, designer)
    world.marketplace.publish_design(designer.id, design_id)
    return design_id


def placed_order(world: World, who: Who) -> UUID:
    area = world.index(who("area_company"))
    site = DeliverySite("Gården", "Torget 1", "145 51", MUNICIPALITY[area])
    design = world.designs[who("designer").id]
    return world.marketplace.place_order(who("buyer").id, site, True, [LineRequest(design, 1)]).id  # type: ignore[no-any-return]


def open_production(world: World, who: Who) -> tuple[UUID, UUID]:
    order_id = placed_order(world, who)
    payment_provider_confirms(world.api, order_id)
    return order_id, production_order_id(order_id, 1)


def production(world: World, who: Who, state: str) -> tuple[UUID, UUID]:
    """A production order accepted (or further) by ``who("workshop")``."""
    order_id, production_id = open_production(world, who)
    workshop = who("workshop").id
    world.marketplace.accept_production(workshop, production_id)
    if state in ("in_progress", "completed"):
        world.marketplace.start_production(workshop, production_id)
    if state == "completed":
        world.marketplace.complete_production(workshop, production_id, 8.0, "")
    return order_id, production_id


STEPS = ("pending", "scheduled", "dispatched", "delivered", "installed")


def delivery(world: World, who: Who, state: str) -> tuple[UUID, UUID]:
    """A delivery in the given state; returns (order id, delivery id)."""
    order_id, _ = production(world, who, "completed")
    target = delivery_id(order_id, 1)
    workshop, m = who("workshop").id, world.marketplace
    steps = STEPS[1 : STEPS.index(state) + 1]
    for step in steps:
        if step == "scheduled":
            m.schedule_delivery(workshop, target, *window())
        elif step == "dispatched":
            m.dispatch_delivery(workshop, target)
        elif step == "delivered":
            m.deliver(workshop, target, "Caretaker")
        elif step == "installed":
            m.install(who("area_company").id, target)
    return order_id, target


def t_nothing(world: World, who: Who) -> Target:
    return Target()


def t_new_organisation(world: World, who: Who) -> Target:
    return Target(body={"name": "Ny Bostad AB", "role": "buyer", "org_number": org_number(),
                        "municipality": "Botkyrka", "capabilities": [], "service_area": []})  # fmt: skip


def t_organisation(world: World, who: Who) -> Target:
    return Target(path={"organisation_id": who("self").id})


def t_api_key(world: World, who: Who) -> Target:
    owner = who("self")
    issued = world.marketplace.issue_api_key(owner.id)
    return Target(path={"organisation_id": owner.id, "key_id": issued.key_id})


def t_new_person(world: World, who: Who) -> Target:
    return Target(path={"organisation_id": who("self").id},
                  body={"name": "Ny Medlem", "email": f"{uuid.uuid4().hex[:12]}@example.se", "language": "sv"})


def t_person(world: World, who: Who) -> Target:
    owner = who("self")
    invitation = world.marketplace.invite_person(owner.id, name="Medlem", email=f"{uuid.uuid4().hex[:12]}@example.se",
                                                 language="sv")  # fmt: skip
    return Target(path={"organisation_id": owner.id, "person_id": invitation.person_id},
                  listed=("id", str(invitation.person_id)))  # fmt: skip


def t_new_design(world: World, who: Who) -> Target:
    return Target(body=design_body())


def t_draft(world: World, who: Who) -> Target:
    return Target(path={"design_id": draft_design(world, who("designer"))}, body=design_body(title="Bänk II"))


def t_draft_listed(world: World, who: Who) -> Target:
    design_id = draft_design(world, who("designer"))
    return Target(query={"limit": 100}, listed=("id", str(design_id)))


def t_published(world: World, who: Who) -> Target:
    design_id = published_design(world, who("designer"))
    return Target(path={"design_id": design_id}, query={"limit": 100}, listed=("id", str(design_id)))


MULTIPART = "multipart/form-data; boundary=vardekedja-table"
DRAWING = b"%PDF-1.7\n% a production drawing\n"


def t_upload(world: World, who: Who) -> Target:
    body = (b"--vardekedja-table\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nproduction_file\r\n"
            b"--vardekedja-table\r\nContent-Disposition: form-data; name=\"file\"; filename=\"drawing.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n" + DRAWING + b"\r\n--vardekedja-table--\r\n")
    return Target(path={"design_id": draft_design(world, who("designer"))}, content=body,
                  headers={"Content-Type": MULTIPART})  # fmt: skip


def t_media(kind: str) -> Callable[[World, Who], Target]:
    """A published design with a file of the kind; a production order for it held by ``who("workshop")``."""

    def make(world: World, who: Who) -> Target:
        designer, m = who("designer"), world.marketplace
        design_id = draft_design(world, designer)
        sha256 = MediaStore(world.api.runtime.settings.data_dir / "media").put(DRAWING)
        media_id = m.attach_media(designer.id, design_id, kind=kind, filename="drawing.pdf", sha256=sha256,
                                  size=len(DRAWING), content_type="application/pdf",
                                  variants={"thumb": sha256} if kind == "picture" else {}).id  # fmt: skip
        m.publish_design(designer.id, design_id)
        site = DeliverySite("Gården", "Torget 1", "145 51", MUNICIPALITY[0])
        order_id = m.place_order(who("buyer").id, site, False, [LineRequest(design_id, 1)]).id
        payment_provider_confirms(world.api, order_id)
        m.accept_production(who("workshop").id, production_order_id(order_id, 1))
        return Target(path={"design_id": design_id, "media_id": media_id})

    return make


def t_new_order(world: World, who: Who) -> Target:
    design = world.designs[who("designer").id]
    return Target(body={"delivery_site": site_body("Botkyrka"), "install": True,
                        "lines": [{"design_id": str(design), "quantity": 2}]})  # fmt: skip


def t_order(world: World, who: Who) -> Target:
    order_id = placed_order(world, who)
    return Target(path={"order_id": order_id}, body={"reason": "changed our minds"}, query={"limit": 100},
                  listed=("id", str(order_id)))  # fmt: skip


def t_webhook(world: World, who: Who) -> Target:
    order_id = placed_order(world, who)
    payload, signature = signed_webhook(order_id, world.marketplace.order(order_id).total_ore)
    return Target(content=payload, headers={"Stripe-Signature": signature, "Content-Type": "application/json"})


def t_open_production(world: World, who: Who) -> Target:
    return Target(path={"production_order_id": open_production(world, who)[1]})


def t_production(state: str, body: Any = None) -> Callable[[World, Who], Target]:
    def make(world: World, who: Who) -> Target:
        production_id = production(world, who, state)[1]
        return Target(path={"production_order_id": production_id}, body=body, query={"limit": 100},
                      listed=("id", str(production_id)))  # fmt: skip

    return make


def t_delivery(state: str, body: Any = None) -> Callable[[World, Who], Target]:
    def make(world: World, who: Who) -> Target:
        target = delivery(world, who, state)[1]
        return Target(path={"delivery_id": target}, body=body, query={"limit": 100}, listed=("id", str(target)))

    return make


def t_payouts(world: World, who: Who) -> Target:
    order_id = delivery(world, who, "installed")[0]
    return Target(query={"order_id": str(order_id)}, listed=("order_id", str(order_id)))


def installed_asset(world: World, who: Who) -> UUID:
    order_id = delivery(world, who, "installed")[0]
    return asset_id(order_id, 1, 1)


def t_asset(world: World, who: Who) -> Target:
    target = installed_asset(world, who)
    return Target(path={"asset_id": target}, query={"limit": 100}, listed=("id", str(target)))


def t_maintenance(state: str, body: Any = None) -> Callable[[World, Who], Target]:
    def make(world: World, who: Who) -> Target:
        m, area_company = world.marketplace, who("area_company").id
        target = m.report_fault(installed_asset(world, who), ServiceCode.DAMAGE, "A loose slat").id
        if state in ("acknowledged", "in_progress"):
            m.acknowledge_maintenance(area_company, target)
        if state == "in_progress":
            m.start_maintenance(area_company, target)
        return Target(path={"maintenance_order_id": target}, body=body, query={"limit": 100},
                      listed=("id", str(target)))  # fmt: skip

    return make


def t_impact(world: World, who: Who) -> Target:
    order_id = delivery(world, who, "installed")[0]
    return Target(query={"scope": "order", "id": str(order_id)})


PAID = ("designer", "workshop", "area_company")


def t_paid_party(world: World, who: Who) -> Target:
    """A party that is paid: the caller itself when it is one; for the operator a new designer with no
    account yet; else another designer."""
    if who("self").role in PAID:
        return Target(path={"organisation_id": who("self").id})
    if who("self").role == "operator":
        fresh = world.marketplace.register_organisation(name="Studio Ny", role="designer", org_number=org_number(),
                                                        municipality="Botkyrka")  # fmt: skip
        return Target(path={"organisation_id": fresh.organisation_id})
    return Target(path={"organisation_id": who("designer").id})


def t_payout_account(world: World, who: Who) -> Target:
    target = t_paid_party(world, who)
    if world.marketplace.payout_account(target.path["organisation_id"]) is None:
        world.marketplace.connect_payout_account(target.path["organisation_id"], "http://t/", "http://t/")
    return target


def t_claim(world: World, who: Who) -> Target:
    order_id = delivery(world, who, "installed")[0]
    return Target(path={"order_id": order_id}, body={"line_no": 1, "amount_ore": 100_00, "reason": "scratched"})


def t_stream(world: World, who: Who) -> Target:
    return Target(path={"stream_id": placed_order(world, who)})


def t_audit_events(world: World, who: Who) -> Target:
    after = world.marketplace.position
    order_id = placed_order(world, who)
    return Target(query={"after": after, "limit": 1000}, listed=("stream_id", str(order_id)))


# The table. Roles left out get 403; no key and a bad key get 401 unless said otherwise.


@dataclass(frozen=True)
class Route:
    make: Callable[[World, Who], Target]
    expect: dict[str, Expectation]

    def expected(self, caller: str) -> Expectation:
        """A person is answered as their organisation's role is (unless the table says otherwise)."""
        if caller in self.expect:
            return self.expect[caller]
        if caller.endswith(PERSON):
            return self.expected(caller.removesuffix(PERSON))
        return 401 if caller in STRANGERS else 403


def everyone(answer: Expectation, *, strangers: Expectation | None = None) -> dict[str, Expectation]:
    table = dict.fromkeys(ROLES, answer)
    if strangers is not None:
        table.update(dict.fromkeys(STRANGERS, strangers))
    return table


OVERSEERS = {"operator": 200, "auditor": 200}
OVERSEERS_SEE = {"operator": SEEN, "auditor": SEEN}

TABLE: dict[tuple[str, str, str], Route] = {
    # Organisations and keys: the operator, or the organisation itself (an auditor writes nothing, not even keys).
    ("POST", "/v1/organisations", ""): Route(t_new_organisation, {"operator": 201}),
    ("GET", "/v1/me", ""): Route(t_nothing, everyone(200)),
    ("GET", "/v1/organisations/{organisation_id}", ""): Route(
        t_organisation, {**everyone((200, 404)), "operator": (200, 200), "auditor": (200, 200)}),
    ("POST", "/v1/organisations/{organisation_id}/api-keys", ""): Route(
        t_organisation, {**everyone((201, 404)), "operator": (201, 201), "auditor": (403, 403)}),
    ("DELETE", "/v1/organisations/{organisation_id}/api-keys/{key_id}", ""): Route(
        t_api_key, {**everyone((204, 404)), "operator": (204, 204), "auditor": (403, 403)}),
    # People: the operator, or the organisation itself (members see and invite each other; an auditor writes
    # nothing). What is held about a person goes to the operator and to that person only (see test_people.py);
    # erasing is the operator's.
    ("POST", "/v1/organisations/{organisation_id}/people", ""): Route(
        t_new_person, {**everyone((201, 404)), "operator": (201, 201), "auditor": (403, 403)}),
    ("GET", "/v1/organisations/{organisation_id}/people", ""): Route(
        t_person, {**everyone((SEEN, 404)), "operator": (SEEN, SEEN)}),
    ("DELETE", "/v1/organisations/{organisation_id}/people/{person_id}", ""): Route(
        t_person, {**everyone((204, 404)), "operator": (204, 204), "auditor": (403, 403)}),
    ("GET", "/v1/people/{person_id}/data", ""): Route(t_person, {**everyone(404), "operator": (200, 200)}),
    ("POST", "/v1/people/{person_id}/erase", ""): Route(t_person, {"operator": (200, 200)}),
    # Designs: changed by their designer only; a draft is the designer's alone, a published design everyone's.
    ("POST", "/v1/designs", ""): Route(t_new_design, {"designer": 201}),
    ("PUT", "/v1/designs/{design_id}", ""): Route(t_draft, {"designer": (200, 404)}),
    ("POST", "/v1/designs/{design_id}/publish", ""): Route(t_draft, {"designer": (200, 404)}),
    ("POST", "/v1/designs/{design_id}/retire", ""): Route(t_published, {"designer": (200, 404)}),
    ("GET", "/v1/designs/{design_id}", "draft"): Route(t_draft, {**everyone(404), "designer": (200, 404)}),
    ("GET", "/v1/designs/{design_id}", "published"): Route(t_published, {**everyone(200), "designer": (200, 200)}),
    # A designer's own list holds its drafts; another designer's list does not.
    ("GET", "/v1/designs", ""): Route(t_draft_listed, {"designer": (SEEN, UNSEEN)}),
    ("GET", "/v1/catalogue", ""): Route(t_published, {**everyone(SEEN), "designer": (SEEN, SEEN)}),
    # Media: attached by the designer; pictures of a published revision are public (no key needed), production
    # files go to the designer, a workshop holding a production order for the revision, the operator and auditors.
    ("POST", "/v1/designs/{design_id}/media", ""): Route(t_upload, {"designer": (201, 404)}),
    ("GET", "/v1/designs/{design_id}/media/{media_id}", "picture"): Route(
        t_media("picture"), {**everyone(200), "designer": (200, 200), "anonymous": 200}),
    ("GET", "/v1/designs/{design_id}/media/{media_id}", "production file"): Route(t_media("production_file"), {
        **everyone(404, strangers=404), "designer": (200, 404), "workshop": (200, 404), "bad_key": 401,
        "ended_session": 401, **OVERSEERS}),
    # Orders: the buyer's own; the operator and auditors read them all.
    ("POST", "/v1/orders", ""): Route(t_new_order, {"buyer": 201}),
    ("GET", "/v1/orders", ""): Route(t_order, {"buyer": (SEEN, UNSEEN), **OVERSEERS_SEE}),
    ("GET", "/v1/orders/{order_id}", ""): Route(t_order, {"buyer": (200, 404), **OVERSEERS}),
    ("POST", "/v1/orders/{order_id}/checkout", ""): Route(t_order, {"buyer": (200, 404)}),
    ("POST", "/v1/orders/{order_id}/cancel", ""): Route(t_order, {"buyer": (200, 404)}),
    # Stripe's webhook is authenticated by its signature, not by an API key: a signed event is taken from anyone.
    ("POST", "/v1/payments/stripe/webhook", ""): Route(t_webhook, everyone(200, strangers=200)),
    # Production: a workshop sees open orders it is eligible for and those it holds.
    ("GET", "/v1/production-orders", ""): Route(
        t_production("accepted"), {"workshop": (SEEN, UNSEEN), **OVERSEERS_SEE}),
    ("GET", "/v1/production-orders/{production_order_id}", ""): Route(
        t_production("accepted"), {"workshop": (200, 404), **OVERSEERS}),
    ("POST", "/v1/production-orders/{production_order_id}/accept", ""): Route(t_open_production, {"workshop": 200}),
    ("POST", "/v1/production-orders/{production_order_id}/start", ""): Route(
        t_production("accepted"), {"workshop": (200, 404)}),
    ("POST", "/v1/production-orders/{production_order_id}/complete", ""): Route(
        t_production("in_progress", {"hours_worked": 7.5, "notes": "sanded"}), {"workshop": (200, 404)}),
    ("POST", "/v1/production-orders/{production_order_id}/release", ""): Route(
        t_production("accepted", {"reason": "a machine broke"}), {"workshop": (200, 404)}),
    # Deliveries: seen by their workshop, buyer and area company; carried by the workshop, installed by the area company.
    ("GET", "/v1/deliveries", ""): Route(t_delivery("pending"), {
        "workshop": (SEEN, UNSEEN), "buyer": (SEEN, UNSEEN), "area_company": (SEEN, UNSEEN), **OVERSEERS_SEE}),
    ("GET", "/v1/deliveries/{delivery_id}", ""): Route(t_delivery("pending"), {
        "workshop": (200, 404), "buyer": (200, 404), "area_company": (200, 404), **OVERSEERS}),
    ("POST", "/v1/deliveries/{delivery_id}/schedule", ""): Route(
        t_delivery("pending", schedule_body()), {"workshop": (200, 404)}),
    ("POST", "/v1/deliveries/{delivery_id}/dispatch", ""): Route(t_delivery("scheduled"), {"workshop": (200, 404)}),
    ("POST", "/v1/deliveries/{delivery_id}/deliver", ""): Route(
        t_delivery("dispatched", {"received_by": "Caretaker"}), {"workshop": (200, 404)}),
    ("POST", "/v1/deliveries/{delivery_id}/fail", ""): Route(
        t_delivery("scheduled", {"reason": "nobody home"}), {"workshop": (200, 404)}),
    ("POST", "/v1/deliveries/{delivery_id}/install", ""): Route(t_delivery("delivered"), {"area_company": (200, 404)}),
    # Payouts: each party its own; a buyer is owed nothing; the operator and auditors see all.
    ("GET", "/v1/payouts", ""): Route(t_payouts, {
        "designer": (SEEN, UNSEEN), "workshop": (SEEN, UNSEEN), "area_company": (SEEN, UNSEEN),
        "buyer": UNSEEN, **OVERSEERS_SEE}),
    # Förvaltning: a piece and its maintenance are the buyer's and the area company's looking after it.
    ("GET", "/v1/assets", ""): Route(t_asset, {
        "buyer": (SEEN, UNSEEN), "area_company": (SEEN, UNSEEN), **OVERSEERS_SEE}),
    ("GET", "/v1/assets/{asset_id}", ""): Route(t_asset, {"buyer": (200, 404), "area_company": (200, 404), **OVERSEERS}),
    ("GET", "/v1/assets/{asset_id}/qr.svg", ""): Route(t_asset, {
        "buyer": (200, 404), "area_company": (200, 404), **OVERSEERS}),
    ("GET", "/v1/maintenance-orders", ""): Route(t_maintenance("open"), {
        "buyer": (SEEN, UNSEEN), "area_company": (SEEN, UNSEEN), **OVERSEERS_SEE}),
    ("GET", "/v1/maintenance-orders/{maintenance_order_id}", ""): Route(t_maintenance("open"), {
        "buyer": (200, 404), "area_company": (200, 404), **OVERSEERS}),
    ("POST", "/v1/maintenance-orders/{maintenance_order_id}/acknowledge", ""): Route(
        t_maintenance("open"), {"area_company": (200, 404)}),
    ("POST", "/v1/maintenance-orders/{maintenance_order_id}/start", ""): Route(
        t_maintenance("acknowledged"), {"area_company": (200, 404)}),
    ("POST", "/v1/maintenance-orders/{maintenance_order_id}/resolve", ""): Route(
        t_maintenance("in_progress", {"hours_worked": 2, "materials_ore": 5000, "notes": "new slat"}),
        {"area_company": (200, 404)}),
    ("POST", "/v1/maintenance-orders/{maintenance_order_id}/reject", ""): Route(
        t_maintenance("open", {"reason": "not our piece"}), {"area_company": (200, 404)}),
    ("POST", "/v1/maintenance-orders/{maintenance_order_id}/reporter/erase", ""): Route(
        t_maintenance("open"), {"operator": 200}),
    # Impact: each party of an order sees its impact; the operator and auditors every order's.
    ("GET", "/v1/impact", ""): Route(t_impact, {
        "buyer": (200, 404), "designer": (200, 404), "workshop": (200, 404), "area_company": (200, 404),
        **OVERSEERS}),
    ("GET", "/v1/payouts/transfer-failures", ""): Route(t_nothing, OVERSEERS),
    ("GET", "/v1/payouts/reconciliation", ""): Route(t_nothing, OVERSEERS),
    ("GET", "/v1/bookkeeping/sie", ""): Route(t_nothing, OVERSEERS),
    # Payout accounts: a paid party's own (by itself or the operator); claims are the operator's alone.
    ("POST", "/v1/organisations/{organisation_id}/payout-account", ""): Route(t_paid_party, {
        "designer": (200, 404), "workshop": (200, 404), "area_company": (200, 404), "buyer": 404, "operator": 200}),
    ("GET", "/v1/organisations/{organisation_id}/payout-account", ""): Route(t_payout_account, {
        "designer": (200, 404), "workshop": (200, 404), "area_company": (200, 404), "buyer": 404, **OVERSEERS}),
    ("POST", "/v1/orders/{order_id}/refunds", ""): Route(t_claim, {"operator": 201}),
    # Audit: the operator and auditors read the log; the public key that signs checkpoints needs no key at all.
    ("GET", "/v1/audit/events", ""): Route(t_audit_events, OVERSEERS_SEE),
    ("GET", "/v1/audit/streams/{stream_id}", ""): Route(t_stream, OVERSEERS),
    ("GET", "/v1/audit/verify", ""): Route(t_nothing, OVERSEERS),
    ("GET", "/v1/audit/public-key", ""): Route(t_nothing, everyone(200, strangers=200)),
}  # fmt: skip


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /v1, read from the app's own route list (as declared: without
    the guards in front of its routers, api/route_guards.py)."""
    app = create_app(Settings(data_dir=Path("/nonexistent/never-created"), database_url=None))  # opens nothing
    routes = [(context.original_route, context.path, context.methods)
              for context in iter_route_contexts(declared_routes(app))]  # fmt: skip
    return {
        (method, path)
        for route, path, methods in routes
        if isinstance(route, APIRoute) and path.startswith("/v1/")
        for method in methods
    }


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    variant: str
    caller: str
    side: str  # "own", "other", or "any" where ownership does not apply
    expected: Expected

    def __str__(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        side = "" if self.side == "any" else f" on {self.side}"
        return f"{self.method} {self.path}{variant} as {self.caller}{side}"


def cases() -> Iterator[Case]:
    for method, path in sorted(app_routes(), key=lambda item: (item[1], item[0])):
        variants = [key for key in TABLE if key[:2] == (method, path)] or [(method, path, "missing")]
        for key in variants:
            route = TABLE.get(key)
            for caller in (*ROLES, *PEOPLE, *STRANGERS):
                answer = route.expected(caller) if route else "no entry in the table"
                if isinstance(answer, tuple):
                    yield Case(method, path, key[2], caller, "own", answer[0])
                    yield Case(method, path, key[2], caller, "other", answer[1])
                else:
                    yield Case(method, path, key[2], caller, "any", answer)


CASES = list(cases())


def test_the_table_has_an_entry_for_every_v1_route_and_no_other() -> None:
    assert {key[:2] for key in TABLE} == app_routes()


def test_an_auditor_can_write_nothing() -> None:
    # Stripe's webhook is the one write not made on a caller's behalf: its signature, not a key, admits it.
    writes = [key for key in TABLE if key[0] in ("POST", "PUT", "DELETE") and key[1] != WEBHOOK]
    assert {key[:2] for key in writes} == {route for route in app_routes() if route[0] != "GET" and route[1] != WEBHOOK}
    for key in writes:
        assert TABLE[key].expected("auditor") in (403, (403, 403)), key
        assert TABLE[key].expected("auditor" + PERSON) in (403, (403, 403)), key


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_caller_gets_the_answer_the_table_gives(world: World, case: Case) -> None:
    assert case.variant != "missing", f"{case.method} {case.path} has no entry in TABLE: add one"
    route = TABLE[(case.method, case.path, case.variant)]
    role = case.caller.removesuffix(PERSON)
    target = route.make(world, picker(world, role if role in ROLES else None, case.side))
    world.api.caught_up()
    key = {"anonymous": None, "bad_key": BAD_KEY}.get(case.caller, world.caller(case.caller).key
                                                     if case.caller in ROLES else None)  # fmt: skip
    headers = {**target.headers, **world.sessions.get(case.caller, {})}
    before = world.marketplace.position

    response = world.api.request(case.method, case.path.format(**target.path), key, json=target.body,
                                 params=target.query, headers=headers, content=target.content)  # fmt: skip

    status = 200 if case.expected in (SEEN, UNSEEN) else case.expected
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status
        assert world.marketplace.position == before, "a refused request wrote events"
    elif case.method != "GET":
        assert int(response.headers[POSITION]) == world.marketplace.position > before
    if case.expected in (SEEN, UNSEEN):
        assert target.listed is not None
        name, value = target.listed
        listed = any(item[name] == value for item in response.json()["items"])
        assert listed == (case.expected == SEEN)
