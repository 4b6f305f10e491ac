"""Schemathesis against the ASGI app, over a seeded demo world, as one role at a time.

Shared by ``test_schemathesis.py`` (a short run in the suite) and
``bench/schemathesis_long.py`` (a long run with a time budget): both build the
same world, the same schema and the same checks, and differ only in how many
examples they try and which phases they run.

The world is the demo data set (``vardekedja.demo.seed``), the operator, and
a Stripe that never leaves the process. Generated path parameters are often
swapped for ids that exist in that world, so the fuzzer reaches the deeper
paths (an order that can be cancelled, a production order a workshop can
accept) instead of answering 404 to random UUIDs every time.

Schemathesis runs through its engine, the one behind ``schemathesis run``: it
runs every phase (coverage and stateful included) and takes a time budget, and
the pytest loader for fixtures (``schemathesis.pytest.from_fixture``) fails on
pytest 9.2 (it sets ``request.node._nodeid``, which pytest 9.2 no longer has).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, events
from schemathesis.python import asgi

from vardekedja.api import create_app
from vardekedja.api.sessions import COOKIE, SessionStore
from vardekedja.application import PaymentIntent
from vardekedja.demo import seed
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.stripe_gateway import StripeGateway

SEED = 20_260_105
WEBHOOK_SECRET = "whsec_fuzzing"

# The checks the API promises to pass. The others (negative data rejection, …)
# judge choices the contract leaves open, so they stay off.
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance", "content_type_conformance")
OTHER_CHECKS = (
    "response_headers_conformance", "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
    "unsupported_method", "allow_header_conformance", "use_after_free", "ensure_resource_availability",
    "ignored_auth", "object_level_authorization",
)  # fmt: skip

ROLES = ("operator", "buyer", "designer", "workshop", "area_company", "auditor")

# Which demo organisation plays each role (the operator comes from the settings).
ACTORS = {
    "buyer": "Botkyrkabyggen",
    "designer": "Studio Allmänning",
    "workshop": "Fittja Snickeri & Smide",
    "area_company": "Botkyrka Områdesföretag",
    "auditor": "Revisionsbyrån Granskning",
}

# Path parameter name -> the topic prefix of the aggregates it names.
ID_PARAMETERS = {
    "organisation_id": "vardekedja:Organisation.",
    "design_id": "vardekedja:Design.",
    "order_id": "vardekedja:Order.",
    "production_order_id": "vardekedja:ProductionOrder.",
    "delivery_id": "vardekedja:Delivery.",
    "person_id": "vardekedja:Person.",
    "stream_id": "vardekedja:",
}
# A role followed by this calls as a person of that role's organisation, signed in (cookie and CSRF header).
PERSON = " (person)"


class OfflineStripe(StripeGateway):
    """Payment intents and refunds kept in memory; webhook signatures checked for real, with a known secret."""

    def __init__(self) -> None:
        super().__init__("sk_test_offline", WEBHOOK_SECRET, api_base="http://127.0.0.1:9")
        self.intents: dict[str, PaymentIntent] = {}
        self._serial = itertools.count(1)

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str,
                              idempotency_key: str) -> PaymentIntent:  # fmt: skip
        intent_id = f"pi_offline_{next(self._serial)}"
        intent = PaymentIntent(intent_id, f"{intent_id}_secret_x", amount_ore, currency, "requires_payment_method")
        self.intents[intent_id] = intent
        return intent

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        return self.intents.get(payment_intent_id)

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        return f"re_offline_{next(self._serial)}"


@dataclass
class World:
    """A runtime with the demo data, a key per role and the ids that exist, per path parameter name."""

    runtime: Runtime
    keys: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)
    # Requests answered 4xx after which the event store had moved: a refusal must record nothing.
    written_on_4xx: list[str] = field(default_factory=list)
    calls_watched: int = 0
    _heads: dict[int, int] = field(default_factory=dict)
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # a person's role -> their headers

    def close(self) -> None:
        self.runtime.close()


def seed_world(data_dir: Path, operator_key: str) -> World:
    """A fresh SQLite runtime in ``data_dir`` with the demo seeded, and every aggregate id in its log."""
    runtime = Runtime(Settings(data_dir=data_dir, database_url=None, operator_key=operator_key),
                      payments=OfflineStripe())  # fmt: skip
    demo = seed(runtime.marketplace)
    by_name = {key.name: key.api_key for key in demo.keys}
    keys = {"operator": operator_key, **{role: by_name[name] for role, name in ACTORS.items()}}
    sessions = _people(runtime, ACTORS["buyer"])
    found: dict[str, set[str]] = defaultdict(set)
    for notification in runtime.marketplace.recorder.select_notifications(1, 100_000):
        for name, prefix in ID_PARAMETERS.items():
            if notification.topic.startswith(prefix):
                found[name].add(str(notification.originator_id))
    return World(runtime=runtime, keys=keys, ids={name: sorted(ids) for name, ids in found.items()},
                 sessions=sessions)  # fmt: skip


def _people(runtime: Runtime, organisation_name: str) -> dict[str, dict[str, str]]:
    """Members of the organisation (one joined and signed in, one invited); the signed-in one's headers."""
    app = runtime.marketplace
    organisation = next(o for o in map(app.organisation, app.directory().listings) if o.name == organisation_name)
    joined = app.invite_person(organisation.id, name="Amira Hassan", email="amira@example.se", language="sv")
    app.join_person(joined.person_id, token=joined.token, password_hash="not checked by these tests")
    app.invite_person(organisation.id, name="Bo Ek", email="bo@example.se", language="en")
    store = SessionStore.for_settings(runtime.settings)
    token, session = store.start(person_id=joined.person_id, organisation_id=organisation.id,
                                 role=organisation.role, organisation_name=organisation.name)  # fmt: skip
    store.dispose()
    return {"buyer" + PERSON: {"Cookie": f"{COOKIE}={token}", "X-CSRF-Token": session.csrf_token}}


def config(*, max_examples: int, phases: tuple[str, ...], max_time: int | None = None) -> schemathesis.Config:
    """Deterministic: a fixed seed, derandomized generation, one worker, and nothing remembered
    between runs (no example database, no cache of what earlier runs learned)."""
    settings: dict[str, Any] = {
        "seed": SEED,
        "cache": {"enabled": False},
        "workers": 1,
        "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
        "checks": {name: {"enabled": name in CHECKS} for name in (*CHECKS, *OTHER_CHECKS)},
        "phases": {name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing", "stateful")},
    }  # fmt: skip
    if max_time is not None:
        settings["max-time"] = max_time
    return schemathesis.Config.from_dict(settings)


def build_schema(world: World, role: str, settings: schemathesis.Config, *, tags: tuple[str, ...] = ()) -> Any:
    """The app's own OpenAPI schema (only the operations with ``tags``, if given); requests go
    to the app in process, as ``role``, with real ids mixed in."""
    app = create_app(runtime=world.runtime)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=settings)
    if tags:
        schema = schema.include(tag=list(tags))
    schema.config.headers = world.sessions.get(role) or {"Authorization": f"Bearer {world.keys[role]}"}

    @schema.hook
    def flatmap_path_parameters(_context: Any, parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        choices = {
            name: st.sampled_from([*world.ids[name], value])
            for name, value in (parameters or {}).items()
            if world.ids.get(name)
        }
        if not choices:
            return st.just(parameters)
        return st.fixed_dictionaries(choices).map(lambda chosen: {**(parameters or {}), **chosen})

    _watched["world"] = world
    return schema


# The world whose event store the call hooks watch: the one the last schema was built over.
_watched: dict[str, World] = {}


@schemathesis.hook
def before_call(_context: Any, case: Any, _kwargs: Any) -> None:
    world = _watched.get("world")
    if world is not None:
        world._heads[id(case)] = world.runtime.marketplace.position


@schemathesis.hook
def after_call(_context: Any, case: Any, response: Any) -> None:
    world = _watched.get("world")
    before = world._heads.pop(id(case), None) if world is not None else None
    if world is not None and before is not None:
        world.calls_watched += 1
    if world is not None and before is not None and 400 <= response.status_code < 500 \
            and world.runtime.marketplace.position != before:
        world.written_on_4xx.append(f"{case.method} {case.path} answered {response.status_code}")


def operation_labels(schema: Any) -> set[str]:
    """``METHOD /path`` of every operation in the schema."""
    return {result.ok().label for result in schema.get_all_operations()}


@dataclass
class Finding:
    operation: str
    check: str
    title: str
    message: str
    reproduce: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.check}: {self.title}\n{self.message}\n{self.reproduce}"


@dataclass
class Report:
    """What a run did and found."""

    role: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cases: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    operations: set[str] = field(default_factory=set)
    stop_reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings and not self.errors

    def summary(self) -> str:
        cases = ", ".join(f"{phase} {count}" for phase, count in self.cases.items())
        return (f"{self.role:12} {len(self.operations):3} operations, cases: {cases or 'none'}; "
                f"{len(self.findings)} failures, {len(self.errors)} errors; {self.stop_reason} "
                f"in {self.seconds:.1f}s")  # fmt: skip

    def details(self) -> str:
        return "\n\n".join([*(str(finding) for finding in self.findings), *self.errors])


def run(schema: Any, role: str) -> Report:
    """Run every enabled phase over every operation; collect each distinct failure once."""
    report = Report(role=role)
    seen: set[tuple[str, str, str]] = set()
    started = time.perf_counter()
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                if event.status is not Status.SKIP and event.label:
                    report.operations.add(event.label)
                report.cases[event.phase.value] += len(event.recorder.cases)
                _collect(event, report, seen)
            elif isinstance(event, events.NonFatalError):
                report.errors.append(f"{event.label}: {event.info.title}\n{event.info.message}")
            elif isinstance(event, events.FatalError):
                report.errors.append(f"fatal: {event.exception!r}")
            elif isinstance(event, events.EngineFinished):
                report.stop_reason = event.stop_reason.value
    finally:
        asgi.shutdown_lifespans()
    report.seconds = time.perf_counter() - started
    return report


def _collect(event: events.ScenarioFinished, report: Report, seen: set[tuple[str, str, str]]) -> None:
    for nodes in event.recorder.checks.values():
        for node in nodes:
            info = node.failure_info
            if node.status is not Status.FAILURE or info is None:
                continue
            key = (info.failure.operation, node.name, info.failure.title)
            if key not in seen:
                seen.add(key)
                report.findings.append(Finding(info.failure.operation, node.name, info.failure.title,
                                               info.failure.message, info.code_sample))  # fmt: skip
