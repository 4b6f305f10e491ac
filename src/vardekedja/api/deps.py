"""Dependencies, declared once: the runtime, the authenticated caller, and read connections to the views."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection

from vardekedja.api.problems import ApiError
from vardekedja.application import Marketplace, hash_api_key, split_api_key
from vardekedja.domain.organisation import Role
from vardekedja.runtime import Runtime

READ_WAIT_SECONDS = 2.0
POSITION_HEADER = "Vardekedja-Position"
MIN_POSITION_HEADER = "Vardekedja-Min-Position"


# Dependencies that neither block nor do I/O are ``async def``: FastAPI runs a plain
# ``def`` dependency in the thread pool, and each such hop costs more than the work.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_marketplace(runtime: RuntimeDep) -> Marketplace:
    return runtime.marketplace


MarketplaceDep = Annotated[Marketplace, Depends(get_marketplace)]


@dataclass(frozen=True)
class Caller:
    """Who is calling: one organisation in one role."""

    organisation_id: UUID
    role: Role
    name: str

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer vk_<id>_<secret>`")

UNAUTHORISED = {"WWW-Authenticate": "Bearer"}


def _lookup(runtime: Runtime, key_id: str, secret: str) -> Caller | None:
    organisations = runtime.view("organisations")
    presented = hash_api_key(secret)
    with runtime.database.reader.connect() as connection:
        for organisation_id, stored in organisations.active_keys(connection, key_id):
            if hmac.compare_digest(presented, stored):
                row = organisations.organisation(connection, organisation_id)
                if row is not None:
                    return Caller(organisation_id, Role(row["role"]), row["name"])
    return None


def authenticate(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller behind the bearer key, compared in constant time against the stored hash.

    A key issued a moment ago may not have reached the views yet; when they
    lag behind the event store, the lookup waits for them once before refusing.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "send an API key as 'Authorization: Bearer <key>'", headers=UNAUTHORISED)
    parts = split_api_key(credentials.credentials)
    if parts is None:
        raise ApiError(401, "the API key is malformed", headers=UNAUTHORISED)
    caller = _lookup(runtime, *parts)
    if caller is None:
        # Look once more after the views have caught up with the store; and always once
        # more, since they may have caught up between the first look and this check.
        head = runtime.marketplace.position
        if runtime.database.processed() < head:
            runtime.wait_for(head, READ_WAIT_SECONDS)
        caller = _lookup(runtime, *parts)
    if caller is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=UNAUTHORISED)
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


def role(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that admits only the given roles (403 for the others)."""

    async def check(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise ApiError(403, f"only a {allowed} may do this; you are a {caller.role.value}")
        return caller

    return check


def read_views(
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
) -> Iterator[Connection]:  # fmt: skip
    """A read connection to the views, after waiting for ``Vardekedja-Min-Position`` if sent.

    The response says which position the views had reached, so a caller whose
    wait timed out can tell.
    """
    # A position past the event store's head names no event yet, so waiting for it
    # would only hold a worker thread for the whole timeout.
    if min_position is not None and runtime.database.processed() < min_position <= runtime.marketplace.position:
        runtime.wait_for(min_position, READ_WAIT_SECONDS)
    with runtime.database.reader.connect() as connection:
        # In the transaction the route reads in, so the position is that of what it reads.
        position = str(runtime.database.processed(connection))
        response.headers[POSITION_HEADER] = position
        request.state.views_position = position  # for an error answer too (see problems.py)
        yield connection


ViewsDep = Annotated[Connection, Depends(read_views)]


def recorded(response: Response, position: int) -> None:
    """Say on a command's response where its last event stands."""
    response.headers[POSITION_HEADER] = str(position)


OperatorDep = Annotated[Caller, Depends(role(Role.OPERATOR))]
DesignerDep = Annotated[Caller, Depends(role(Role.DESIGNER))]
BuyerDep = Annotated[Caller, Depends(role(Role.BUYER))]
WorkshopDep = Annotated[Caller, Depends(role(Role.WORKSHOP))]
AreaCompanyDep = Annotated[Caller, Depends(role(Role.AREA_COMPANY))]
WriterDep = Annotated[Caller, Depends(role(*(r for r in Role if r is not Role.AUDITOR)))]
OverseerDep = Annotated[Caller, Depends(role(Role.OPERATOR, Role.AUDITOR))]
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many items (1–100)")]
Cursor = Annotated[
    str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$", description="From a page's next_cursor")
]
