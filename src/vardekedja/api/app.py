"""The FastAPI application: built by ``create_app``, wired in its lifespan, nothing at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vardekedja import __version__
from vardekedja.api import sign_in
from vardekedja.api.deps import RuntimeDep
from vardekedja.api.fault_reports import AssetCodes, ClientLimits
from vardekedja.api.idempotency import IdempotencyMiddleware, IdempotencyStore
from vardekedja.api.limits import BodyLimitMiddleware
from vardekedja.api.memo import keep_in_memory
from vardekedja.api.metrics import Metrics, MetricsMiddleware
from vardekedja.api.pages import PageCacheMiddleware
from vardekedja.api.problems import PROBLEM_JSON, Problem, install_problem_handlers, problem
from vardekedja.api.route_guards import guard_routes
from vardekedja.api.routes import (
    audit,
    bookkeeping,
    care,
    deliveries,
    designs,
    impact,
    media,
    open311,
    orders,
    organisations,
    payments,
    payouts,
    people,
    production,
    settlement,
)
from vardekedja.api.sessions import SessionStore
from vardekedja.application.damage import StreamDamagedError
from vardekedja.projections import faults
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.storage.engines import postgres_engine, sqlite_engine

MAX_BODY = 1 << 20
STARTUP_CATCH_UP_SECONDS = 30.0
log = logging.getLogger(__name__)

DESCRIPTION = """\
The Värdekedja marketplace: designers publish furniture for public meeting places, local workshops make it,
area companies install it, housing companies buy it, and auditors check where every krona went.

Authenticate with `Authorization: Bearer <API key>`, or as a person signed in at `/login` with the session
cookie (and the session's `X-CSRF-Token` header on every write). Errors are `application/problem+json`. Every POST takes
an `Idempotency-Key`; every command answers with `Vardekedja-Position`, and a GET that sends
`Vardekedja-Min-Position` waits (up to 2 s) until the views have caught up with it.
"""


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "content": {PROBLEM_JSON: {}}} for code in codes}


# What each kind of route can answer besides success.
READ = _problems(401, 403, 404, 422)
WRITE = _problems(401, 403, 404, 409, 413, 422)


# How often a server process collects garbage (gc.set_threshold): the youngest generation once
# 20,000 more objects are tracked than freed (Python's default is 700), the middle one every 50 of
# those (10), a full collection every 100 of those (10, and only once the objects waiting for it
# are a quarter of those it holds, as always). A request makes and drops thousands of short-lived
# objects: by default the collector ran about 200 times a second under load and the full
# collections 1-2 times a second, each a pause for every request in flight. Placing orders under
# wrk, ten runs taking turns: 734 against 867 orders/s (medians), p99 37-131 against 33-43 ms.
# Cycles still die young; what outlives a middle collection waits longer for a full one.
SERVER_GC_THRESHOLDS = (20_000, 50, 100)


def serve_app() -> FastAPI:
    """The app as ``vardekedja serve`` runs it (one per server process)."""
    return create_app(freeze_after_start=True)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               freeze_after_start: bool = False) -> FastAPI:  # fmt: skip
    """The HTTP API over a runtime: the given one, or one built from settings when the app starts.

    ``freeze_after_start`` moves everything built at start-up out of the
    garbage collector's sight once the app is ready (``gc.freeze``): the
    routes' validators alone made each full collection take 50-120 ms, a
    stall for every request in flight, and they live as long as the process.
    It then collects less often (``SERVER_GC_THRESHOLDS``).
    """
    settings = runtime.settings if runtime is not None else (settings or Settings())
    owned = runtime is None
    holder: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = runtime or Runtime(settings)
        keep_in_memory(current)
        holder["runtime"] = app.state.runtime = current
        app.state.idempotency = IdempotencyStore(_idempotency_engine(settings))
        app.state.sessions = SessionStore.for_settings(settings)
        sign_in.hide_invite_tokens()
        if settings.operator_key is not None:
            try:
                current.marketplace.ensure_operator(
                    name="Värdekedja operator", org_number="559900-0006", municipality="Stockholm",
                    api_key=settings.operator_key.get_secret_value(),
                )  # fmt: skip
            except StreamDamagedError as error:  # serve what does not need the damaged history
                log.error("could not make sure of the operator from VARDEKEDJA_OPERATOR_KEY: %s", error)
        if settings.embedded_projector:
            current.start_embedded_projector()
            # Serve once the views have caught up with what is already recorded (the
            # operator key from the environment included), or after a bounded wait.
            head = current.marketplace.position
            if not await to_thread.run_sync(current.wait_for, head, STARTUP_CATCH_UP_SECONDS):
                log.warning("serving before the views caught up with position %d", head)
        if freeze_after_start:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*SERVER_GC_THRESHOLDS)
        try:
            yield
        finally:
            app.state.idempotency.engine.dispose()
            app.state.sessions.dispose()
            if owned:
                current.close()
            else:
                current.stop()

    # Swagger UI and ReDoc with their scripts served from here, so /docs and /redoc work offline.
    app: FastAPI = FastAPIOffline(
        title="Värdekedja", version=__version__, description=DESCRIPTION, lifespan=lifespan,
    )  # fmt: skip
    install_problem_handlers(app)

    # Each router straight on the app: every level of inclusion is another round of route matching per request.
    for module, responses in [(organisations, WRITE), (people, WRITE), (designs, WRITE), (media, WRITE),
                              (orders, WRITE),
                              (production, WRITE), (deliveries, WRITE), (payouts, READ)]:  # fmt: skip
        app.include_router(module.router, prefix="/v1", responses=responses)
    app.include_router(payments.router, prefix="/v1", responses=_problems(400, 401, 403, 404, 409, 413, 422, 503))
    app.include_router(settlement.router, prefix="/v1", responses=_problems(401, 403, 404, 409, 413, 422, 503))
    app.include_router(bookkeeping.router, prefix="/v1", responses=READ)
    app.include_router(audit.router, prefix="/v1", responses=READ)
    app.include_router(audit.public, prefix="/v1", responses=_problems(404))
    app.include_router(payments.page)
    app.include_router(care.assets, prefix="/v1", responses=READ)
    app.include_router(care.maintenance, prefix="/v1", responses=WRITE)
    app.include_router(impact.router, prefix="/v1", responses=READ)
    app.include_router(open311.router)
    app.state.client_limits = ClientLimits(settings.report_rate_limit, settings.public_read_rate_limit)
    app.state.asset_codes = AssetCodes()
    _operations(app)

    app.add_middleware(PageCacheMiddleware)
    app.add_middleware(IdempotencyMiddleware, max_body=MAX_BODY)
    app.state.metrics = Metrics(lambda: holder.get("runtime"))
    app.add_middleware(BodyLimitMiddleware, max_body=MAX_BODY)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    guard_routes(app)
    return app


def _idempotency_engine(settings: Settings) -> Any:
    if settings.uses_postgres:
        return postgres_engine(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return sqlite_engine(str(settings.data_dir / "idempotency.sqlite3"), begin="BEGIN IMMEDIATE")


def _operations(app: FastAPI) -> None:
    operations = APIRouter(tags=["operations"])

    @operations.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @operations.get("/readyz", responses=_problems(503))
    def readyz(runtime: RuntimeDep) -> Any:
        """Readiness: the event store and the views answer, and every projection applied every event."""
        try:
            head = runtime.marketplace.position
        except Exception:  # noqa: BLE001 - any database failure means not ready
            log.exception("readiness: the event store does not answer")
            return problem(503, "the event store does not answer; the server log says why")
        try:
            processed = runtime.database.processed()
            with runtime.database.reader.connect() as connection:
                found = faults.all_faults(connection)
        except Exception:  # noqa: BLE001 - any database failure means not ready
            log.exception("readiness: the views' database does not answer")
            return problem(503, "the views' database does not answer; the server log says why")
        stuck = runtime.command_thread_problem()
        if stuck is not None:
            return problem(503, stuck)
        if found:
            return problem(503, "; ".join(fault.describe() for fault in found[:10]) +
                           " (see vardekedja projections status)")  # fmt: skip
        return {"status": "ready", "event_store_position": head, "views_position": processed}

    @operations.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics() -> Response:
        """Prometheus metrics: requests, latencies, projection lag."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(operations)
