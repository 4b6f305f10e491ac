"""Errors as ``application/problem+json`` (RFC 9457), and which status each domain error gets.

404 covers both "no such thing" and "not yours": the API never tells a caller
that another party's resource exists.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from vardekedja.application import PaymentsUnavailableError, WriterClosedError
from vardekedja.application.command_thread import CommandAbortedError, CommandTimeoutError
from vardekedja.application.damage import StreamDamagedError
from vardekedja.application.payments import ProviderError
from vardekedja.domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    NotEligibleError,
    NotFoundError,
    NotOwnerError,
    RuleViolationError,
)
from vardekedja.projections.paging import InvalidCursorError

PROBLEM_JSON = "application/problem+json"

# Titles as a person would put them; the detail says what went wrong in this case.
TITLES = {
    400: "Bad request", 401: "API key needed", 403: "Not allowed for your role", 404: "Not found",
    405: "Method not allowed", 409: "Conflict with the current state", 413: "Request too large",
    422: "Invalid input", 429: "Too many requests", 500: "Internal error", 501: "Not built yet",
    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
}
# The resource each path segment names, for a 404 that speaks of the resource asked for.
RESOURCES = {
    "organisations": "organisation", "designs": "design", "orders": "order",
    "production-orders": "production order", "deliveries": "delivery", "payouts": "payout",
    "api-keys": "API key", "streams": "stream",
}  # fmt: skip


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class ApiError(Exception):
    """An error the HTTP layer raises itself (authentication, role, idempotency)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem(status: int, detail: str, *, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:vardekedja:problem:{phrase.lower().replace(' ', '-').replace(chr(39), '')}",
        "title": TITLES.get(status, phrase),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(error: DomainError) -> int:
    if isinstance(error, NotFoundError | NotOwnerError | NotEligibleError):
        return 404
    if isinstance(error, ForbiddenError):
        return 403
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, PaymentsUnavailableError):
        return 503
    assert isinstance(error, RuleViolationError | DomainError)
    return 422


def _field_errors(error: DomainError) -> list[dict[str, str]] | None:
    if status_of(error) == 422:
        return [{"field": error.field or "body", "message": str(error)}]
    return None


def _not_yours(request: Request, error: DomainError) -> str:
    """A 404's detail for a resource that may exist but is not the caller's to act on.

    The answer must not tell whether it exists, so it speaks of what the
    caller may do; the domain's rule follows, since the caller can act on it.
    """
    parts = [part for part in request.url.path.split("/") if part]
    noun, ident, action = "resource", "", "change"
    for index, part in enumerate(parts[:-1]):
        if part in RESOURCES:
            noun, ident = RESOURCES[part], parts[index + 1]
            if index + 2 < len(parts):
                action = parts[index + 2]
    return f"there is no {noun} {ident} that you may {action}: {error}"


def _location(parts: tuple[Any, ...]) -> str:
    # Drop the "body" / "query" / "header" prefix: the field path is what a caller can act on.
    return ".".join(str(part) for part in parts[1:]) or str(parts[0]) if parts else "body"


def _position(request: Request, headers: dict[str, str] | None = None) -> dict[str, str] | None:
    """A read that fails still says how far the views had got, so a 404 from lagging views can be told apart."""
    position = getattr(request.state, "views_position", None)
    if position is None:
        return headers
    return {**(headers or {}), "Vardekedja-Position": position}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        status = status_of(error)
        detail = _not_yours(request, error) if isinstance(error, NotOwnerError | NotEligibleError) else str(error)
        return problem(status, detail, errors=_field_errors(error), headers=_position(request))

    @app.exception_handler(ProviderError)
    async def _stripe(_request: Request, error: ProviderError) -> JSONResponse:
        # Stripe (or its stand-in) refused or was unreachable: what was recorded stays; try again later.
        return problem(503, str(error))

    @app.exception_handler(CommandTimeoutError)
    async def _timeout(_request: Request, error: CommandTimeoutError) -> JSONResponse:
        # The command may still be recorded: an Idempotency-Key keeps its claim (see idempotency.py).
        return problem(503, str(error), headers={"Retry-After": "2", "Vardekedja-Outcome": "unknown"})

    @app.exception_handler(CommandAbortedError)
    async def _aborted(_request: Request, error: CommandAbortedError) -> JSONResponse:
        return problem(500, str(error))

    @app.exception_handler(StreamDamagedError)
    async def _damaged(_request: Request, error: StreamDamagedError) -> JSONResponse:
        return problem(500, str(error))

    @app.exception_handler(WriterClosedError)
    async def _closed(_request: Request, error: WriterClosedError) -> JSONResponse:
        # Shutting down (or the command thread is gone): nothing was run; another worker or a restart will.
        return problem(503, str(error), headers={"Retry-After": "1"})

    @app.exception_handler(ApiError)
    async def _api(request: Request, error: ApiError) -> JSONResponse:
        return problem(error.status, error.detail, headers=_position(request, error.headers))

    @app.exception_handler(InvalidCursorError)
    async def _cursor(_request: Request, error: InvalidCursorError) -> JSONResponse:
        return problem(422, str(error), errors=[{"field": "cursor", "message": str(error)}])

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _location(tuple(e["loc"])), "message": e["msg"]} for e in error.errors()]
        return problem(422, "the request is not valid; see errors", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, say): invalid input, like any other.
            return problem(422, "the request body could not be read as JSON",
                           errors=[{"field": "body", "message": str(error.detail)}])  # fmt: skip
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
        if error.status_code == 404 and detail == "Not Found":  # no route at all
            detail = f"there is nothing at {request.url.path}; the API is under /v1 (see /docs)"
        elif error.status_code == 405:
            allowed = (getattr(error, "headers", None) or {}).get("Allow", "")
            detail = f"{request.url.path} does not take {request.method}" + (f"; it takes {allowed}" if allowed else "")
        return problem(error.status_code, detail, headers=getattr(error, "headers", None))
