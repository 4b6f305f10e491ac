"""Dependencies, declared once: the runtime, the authenticated caller, and read connections to the views."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from anyio import to_thread
from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPBearer
from sqlalchemy.engine import Connection

from vardekedja.api.idempotency import derived_id
from vardekedja.api.memo import keys
from vardekedja.api.problems import PROBLEM_JSON, ApiError, Problem
from vardekedja.api.sessions import COOKIE as SESSION_COOKIE
from vardekedja.application import Marketplace, Recorded, hash_api_key, split_api_key
from vardekedja.domain.organisation import Role
from vardekedja.personal_data import ERASURES_CHECKED_EVERY, checkpoint
from vardekedja.projections import faults
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.runtime import Runtime

T = TypeVar("T")
READ_WAIT_SECONDS = 2.0
POLL_SECONDS = 0.002
POSITION_HEADER = "Vardekedja-Position"
MIN_POSITION_HEADER = "Vardekedja-Min-Position"


# Dependencies that neither block nor do I/O are ``async def``: FastAPI runs a plain
# ``def`` dependency in the thread pool, and each such hop costs more than the work.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@dataclass(frozen=True)
class Caller:
    """Who is calling: one organisation in one role."""

    organisation_id: UUID
    role: Role
    name: str
    person_id: UUID | None = None  # set when a signed-in person calls (see api/sessions.py)

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


BEARER_DESCRIPTION = "An API key: `Authorization: Bearer vk_<id>_<secret>`"

UNAUTHORISED = {"WWW-Authenticate": "Bearer"}


def _match(found: list[tuple[str, Caller]], presented: str) -> Caller | None:
    for stored, caller in found:
        if hmac.compare_digest(presented, stored):
            return caller
    return None


def _lookup(runtime: Runtime, key_id: str, presented: str) -> Caller | None:
    """Look the key up in the views, and keep what was found for the next request (see ``Memo``).

    A revoked key must be refused whatever the views are doing: where the
    organisations view is behind the event store, or has an event it could not
    apply (see projections/faults.py), each key it still shows is confirmed
    against the organisation's own events before it is accepted.
    """
    organisations = runtime.view(OrganisationsView)
    kept = keys(runtime)
    generation = kept.generation
    found: list[tuple[str, Caller]] = []
    with runtime.database.reader.connect() as connection:
        for organisation_id, stored in organisations.active_keys(connection, key_id):
            row = organisations.organisation(connection, organisation_id)
            if row is not None:
                found.append((stored, Caller(organisation_id, Role(row["role"]), row["name"])))
        doubtful = bool(found) and (faults.has_fault(connection, organisations.name) or
                                    organisations.position(connection) < runtime.marketplace.position)  # fmt: skip
    if doubtful:
        found = [(stored, caller) for stored, caller in found if _still_issued(runtime, caller, key_id, stored)]
    elif found:
        kept.remember(key_id, found, generation)
    return _match(found, presented)


def _still_issued(runtime: Runtime, caller: Caller, key_id: str, stored: str) -> bool:
    """Whether the organisation's events (not a view) still hold this key."""
    try:
        organisation = runtime.marketplace.organisation(caller.organisation_id)
    except Exception:  # noqa: BLE001 - a stream that cannot be read vouches for nothing: refuse
        return False
    return hmac.compare_digest(organisation.api_keys.get(key_id, ""), stored)


def _lookup_waiting(runtime: Runtime, key_id: str, presented: str) -> Caller | None:
    """Look the key up; if unknown while the views lag behind the store, once more after they caught up.

    A key issued a moment ago may not have reached the views yet. Always look
    twice, since they may have caught up between the first look and the check.
    """
    caller = _lookup(runtime, key_id, presented)
    if caller is None:
        head = runtime.marketplace.position
        if runtime.database.processed() < head:
            runtime.wait_for(head, READ_WAIT_SECONDS)
        caller = _lookup(runtime, key_id, presented)
    return caller


class ApiKey(HTTPBearer):
    """Authentication and the role check as one dependency (each dependency costs a request time).

    A request without an ``Authorization`` header may instead carry a signed-in
    person's session cookie (api/sessions.py), with the CSRF token on writes;
    the person acts with their organisation's role. Otherwise: the caller behind
    the bearer key, compared in constant time against the stored hash: found in memory when kept there (no thread hand-over, no
    query), else in the views on a worker thread. Then only the given roles
    are admitted (403 for the others). Documented as the HTTP bearer scheme.
    """

    def __init__(self, *roles: Role) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=BEARER_DESCRIPTION)
        self.roles = roles or tuple(Role)

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        if authorization is None and SESSION_COOKIE in request.cookies:
            session = await request.app.state.sessions.signed_in(request)  # 401, or 403 without the CSRF token
            caller = Caller(session.organisation_id, session.role, session.organisation_name, session.person_id)
        else:
            caller = await authenticate(request.app.state.runtime, authorization)
        if caller.role not in self.roles:
            allowed = " or ".join(r.with_article for r in self.roles)
            raise ApiError(403, f"only {allowed} may do this, and {caller.name} is {caller.role.with_article}")
        return caller


def bearer_key(authorization: str | None) -> tuple[str, str]:
    """(key id, hash of the secret) from an ``Authorization: Bearer <key>`` header; 401 when missing or malformed."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        raise ApiError(401, "send an API key as 'Authorization: Bearer <key>'", headers=UNAUTHORISED)
    parts = split_api_key(credentials.strip())
    if parts is None:
        raise ApiError(401, "the API key is malformed", headers=UNAUTHORISED)
    return parts[0], hash_api_key(parts[1])


def kept_caller(runtime: Runtime, key_id: str, presented: str) -> Caller | None:
    """The caller behind the key if it is kept in memory (see ``Memo``), else None."""
    kept = keys(runtime).find(key_id)
    return _match(kept, presented) if kept is not None else None


async def authenticate(runtime: Runtime, authorization: str | None) -> Caller:
    """The caller behind an ``Authorization: Bearer <key>`` header; 401 for a missing, malformed or unknown key."""
    key_id, presented = bearer_key(authorization)
    caller = kept_caller(runtime, key_id, presented)
    if caller is None:
        caller = await to_thread.run_sync(_lookup_waiting, runtime, key_id, presented)
    if caller is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=UNAUTHORISED)
    return caller


CallerDep = Annotated[Caller, Depends(ApiKey())]


def seen_by(caller: Caller, *parties: Role, what: str, elsewhere: dict[Role, str] | None = None) -> UUID | None:
    """Whose items the caller may see: everyone's (None) for the operator and auditors, its own for a party.

    ``parties`` are the roles an organisation can be party to such items in;
    any other role sees none of them (403, naming ``what``, and where that
    role finds what it needs instead when ``elsewhere`` says).
    """
    if caller.role in (Role.OPERATOR, Role.AUDITOR):
        return None
    if caller.role in parties:
        return caller.organisation_id
    hint = (elsewhere or {}).get(caller.role)
    raise ApiError(403, f"{caller.name} is {caller.role.with_article}, which is party to no {what}"
                        + (f"; {hint}" if hint else ""))


class Views:
    """Reads of the views for one request: ``await views.read(fn)`` calls ``fn(connection)``.

    First it waits for ``Vardekedja-Min-Position`` if one was sent (without
    holding a thread), then reads in one transaction, and the response says
    which position the views had reached in it, so a caller whose wait timed
    out can tell. On SQLite the read runs right here on the event loop: it is
    local, short and never waits for a lock under WAL, and handing it to a
    worker thread would cost more than the read (each hand-over is a fight for
    the interpreter lock). On PostgreSQL, where a query is a network round
    trip, it runs on a worker thread.
    """

    def __init__(self, runtime: Runtime, request: Request, response: Response, min_position: int | None) -> None:
        self._runtime, self._request, self._response = runtime, request, response
        self._min_position = min_position

    async def read(self, fn: Callable[[Connection], T]) -> T:
        await self._wait()
        if self._runtime.settings.uses_postgres:
            return await to_thread.run_sync(self._read, fn)
        return self._read(fn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        database = self._runtime.database
        with database.reader.connect() as connection:
            position = str(database.processed(connection))
            self._response.headers[POSITION_HEADER] = position
            self._request.state.views_position = position  # for an error answer too (see problems.py)
            return fn(connection)

    async def _wait(self) -> None:
        wanted, runtime = self._min_position, self._runtime
        if wanted is None:
            return
        if runtime.settings.uses_postgres:  # each look is a round trip: wait on a worker thread
            await to_thread.run_sync(self._wait_blocking, wanted)
            return
        if not self._worth_waiting(wanted):
            return
        runtime.projector.hurry()
        deadline = time.monotonic() + READ_WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            if runtime.database.processed() >= wanted:
                return

    def _wait_blocking(self, wanted: int) -> None:
        if self._worth_waiting(wanted):
            self._runtime.wait_for(wanted, READ_WAIT_SECONDS)

    def _worth_waiting(self, wanted: int) -> bool:
        """The views are behind ``wanted`` and the store has it: a position past the store's head
        names no event yet, so waiting for it would only hold the request for the whole timeout."""
        runtime = self._runtime
        return runtime.database.processed() < wanted <= runtime.marketplace.position


async def read_views(
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    min_position: Annotated[
        int | None,
        Header(
            alias=MIN_POSITION_HEADER, ge=0, le=2**62,
            description="Wait (up to 2 s) until the views have processed this position",
        ),
    ] = None,
) -> Views:  # fmt: skip
    return Views(runtime, request, response, min_position)


ViewsDep = Annotated[Views, Depends(read_views)]


def idempotent_id(request: Request) -> UUID | None:
    """The id a creating command gives what it creates, derived from the request's Idempotency-Key, if any."""
    slot = request.scope.get("state", {}).get("idempotency_slot")
    return derived_id(slot) if slot else None


def recorded(response: Response, position: int) -> None:
    """Say on a command's response where its last event stands."""
    response.headers[POSITION_HEADER] = str(position)


async def command(runtime: Runtime, response: Response, run: Callable[[Marketplace], T]) -> T:
    """Run ``run(marketplace)`` on the command thread and say where its last event stands.

    ``run`` calls one command and builds the answer from the aggregates as the
    command left them, so nothing is loaded again (see application/command_thread.py).
    """
    # In a copy of the request's context: personal data the answer opens is noted for api/idempotency.py.
    done = await runtime.commands.run(functools.partial(contextvars.copy_context().run, run, runtime.marketplace))
    recorded(response, done.position)
    value: T = done.value
    return value


async def command_answered(
    runtime: Runtime, response: Response, run: Callable[[Marketplace], Recorded], answer: Callable[[Marketplace, UUID], T]
) -> T:
    """Run one command, then answer with ``answer(marketplace, id)`` of the aggregate it recorded.

    Both run on the command thread, so the answer is built from the aggregate
    as the command left it (see ``command``).
    """
    return await command(runtime, response, lambda app: answer(app, run(app).id))


async def settle_erasure(runtime: Runtime, response: Response) -> None:
    """After a command that erased a data subject's key: answer once the views have dropped the subject's
    sealed values (moved out of the views' write-ahead log, too) and no sooner than every other process sharing
    the keys has looked for erasures, so that once the erasure answered, nothing anywhere opens that data."""
    settled = time.monotonic() + ERASURES_CHECKED_EVERY
    position = int(response.headers[POSITION_HEADER])

    def settle() -> None:
        runtime.wait_for(position, 10.0)
        checkpoint(runtime.database.writer)

    await to_thread.run_sync(settle)
    await asyncio.sleep(max(0.0, settled - time.monotonic()))


OperatorDep = Annotated[Caller, Depends(ApiKey(Role.OPERATOR))]
DesignerDep = Annotated[Caller, Depends(ApiKey(Role.DESIGNER))]
BuyerDep = Annotated[Caller, Depends(ApiKey(Role.BUYER))]
WorkshopDep = Annotated[Caller, Depends(ApiKey(Role.WORKSHOP))]
AreaCompanyDep = Annotated[Caller, Depends(ApiKey(Role.AREA_COMPANY))]
WriterDep = Annotated[Caller, Depends(ApiKey(*(r for r in Role if r is not Role.AUDITOR)))]
OverseerDep = Annotated[Caller, Depends(ApiKey(Role.OPERATOR, Role.AUDITOR))]
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many items (1–100)")]
Cursor = Annotated[
    str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$", description="From a page's next_cursor")
]
# A command answers 503 when the server is shutting down and its command thread takes no more work.
SHUTTING_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "the server is shutting down; try again"},
}
