"""Signing in and out, and joining with an invite: the rules, written once (the web UI's pages show them).

``sign_in`` and ``accept_invite`` start a session or raise ``SignInRefusedError``
saying why; ``signed_in`` answers with the session cookie; ``sign_out`` ends it.
Forms shown before signing in carry a token that must match a cookie set with
the form (``form_token``, ``with_form_cookie``: double submit), so another site
cannot sign someone in behind their back; signing out takes the session's own
CSRF token. Passwords are checked with Argon2id on a
worker thread. Failed sign-ins are counted per email and per client address
(``SignInThrottle``): after a few, each answer is slowed down, and past the
limit the answer is 429 until the window has passed.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import logging
import re
import secrets
import time
from datetime import datetime, timezone
from uuid import UUID

from anyio import to_thread
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from limits import RateLimitItemPerMinute, storage, strategies

from vardekedja.api.sessions import (
    COOKIE,
    Session,
    SessionStore,
    check_csrf,
    clear_session_cookie,
    secure_cookie,
    session_store,
    set_session_cookie,
)
from vardekedja.application.passwords import check_password, hash_password, verify_password
from vardekedja.application.people import hash_invite_token, normalise_email
from vardekedja.domain.errors import DomainError, NotFoundError, RuleViolationError
from vardekedja.domain.person import Person, PersonStatus
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime

FORM_COOKIE = "vardekedja_form"
_INVITE = re.compile(r"/invite/[^/?\s]+")
WINDOW_MINUTES = 15
PER_EMAIL = 5  # failed sign-ins for one email within the window, then 429
PER_CLIENT = 20  # failed sign-ins from one address within the window, then 429
SLOW_AFTER = 2  # failures after which each answer waits, longer each time
MAX_DELAY = 2.0


class InviteTokensHidden(logging.Filter):
    """Keeps invite tokens out of the access log: a logged link would let anyone who reads the log join."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/invite/" in a for a in record.args):
            record.args = tuple(_INVITE.sub("/invite/…", a) if isinstance(a, str) else a for a in record.args)
        return True


def hide_invite_tokens() -> None:
    """Install the filter on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, InviteTokensHidden) for f in access.filters):
        access.addFilter(InviteTokensHidden())


class SignInThrottle:
    """Failed sign-ins per email and per client in a moving window (the ``limits`` library), in this process."""

    def __init__(self, *, per_email: int = PER_EMAIL, per_client: int = PER_CLIENT,
                 window_minutes: int = WINDOW_MINUTES) -> None:  # fmt: skip
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._email = RateLimitItemPerMinute(per_email, window_minutes)
        self._client = RateLimitItemPerMinute(per_client, window_minutes)

    @staticmethod
    def _email_key(email: str) -> str:
        return hashlib.sha256(normalise_email(email).encode()).hexdigest()  # no address kept, even in memory

    def retry_after(self, email: str, client: str) -> int | None:
        """Seconds until another try is allowed, if the email or the client has used up its tries."""
        waits = []
        for item, key in ((self._email, self._email_key(email)), (self._client, client)):
            if not self._limiter.test(item, "sign-in", key):
                reset, _ = self._limiter.get_window_stats(item, "sign-in", key)
                waits.append(max(1, int(reset - time.time()) + 1))
        return max(waits) if waits else None

    def delay(self, email: str, client: str) -> float:
        """How long to hold this attempt: nothing for the first few failures, then doubling."""
        failures = max(self._email.amount - self._limiter.get_window_stats(self._email, "sign-in",
                                                                             self._email_key(email)).remaining,
                       self._client.amount - self._limiter.get_window_stats(self._client, "sign-in", client).remaining)  # fmt: skip
        return 0.0 if failures < SLOW_AFTER else min(MAX_DELAY, 0.25 * 2 ** (failures - SLOW_AFTER))

    def failed(self, email: str, client: str) -> None:
        self._limiter.hit(self._email, "sign-in", self._email_key(email))
        self._limiter.hit(self._client, "sign-in", client)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(self._email, "sign-in", self._email_key(email))


def throttle(request: Request) -> SignInThrottle:
    state = request.app.state
    if getattr(state, "sign_in_throttle", None) is None:
        state.sign_in_throttle = SignInThrottle()
    found: SignInThrottle = state.sign_in_throttle
    return found


# Forms shown before signing in: a token in the form that must match the one in a cookie set with it.


def form_token(request: Request) -> str:
    """The token for a sign-in or invite form (the browser's, if it has one); send it with ``with_form_cookie``."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)


def with_form_cookie(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/")  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_token_ok(request: Request, presented: str | None) -> bool:
    expected = request.cookies.get(FORM_COOKIE)
    return bool(expected and presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


class Refusal(enum.Enum):
    """Why signing in or joining was refused, with the status the page answers with."""

    FORM_EXPIRED = 403
    TOO_MANY = 429
    WRONG = 401
    INVITE_NOT_VALID = 404
    PASSWORD_REFUSED = 422


class SignInRefusedError(Exception):
    """Signing in or joining did not happen; ``rule`` is the broken password rule, ``retry_after`` the wait."""

    def __init__(self, refusal: Refusal, *, retry_after: int | None = None,
                 rule: RuleViolationError | None = None) -> None:  # fmt: skip
        super().__init__(refusal.name)
        self.refusal, self.retry_after, self.rule = refusal, retry_after, rule

    @property
    def status(self) -> int:
        return self.refusal.value

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None


async def sign_in(request: Request, email: str, password: str, csrf_token: str) -> tuple[str, Session]:
    """A new session for the person with this email and password (its id, to set in the cookie, and the session).

    Refuses (``SignInRefusedError``) a form without its token, an email or client
    that has failed too often (429 with the wait), and a wrong email or password.
    """
    if not _form_token_ok(request, csrf_token):
        raise SignInRefusedError(Refusal.FORM_EXPIRED)
    gate, client = throttle(request), request.client.host if request.client else "unknown"
    wait = gate.retry_after(email, client)
    if wait is not None:
        raise SignInRefusedError(Refusal.TOO_MANY, retry_after=wait)
    delay = gate.delay(email, client)
    if delay:
        await asyncio.sleep(delay)
    runtime: Runtime = request.app.state.runtime
    store, replacing = session_store(request), request.cookies.get(COOKIE)
    started = await to_thread.run_sync(lambda: _sign_in(runtime, store, email, password, replacing))
    if started is None:
        gate.failed(email, client)
        raise SignInRefusedError(Refusal.WRONG)
    gate.succeeded(email)
    return started


def _active(runtime: Runtime, person_id: UUID) -> Person | None:
    """The person as the event store has it now (the views may lag behind a removal), if active."""
    try:
        person = runtime.marketplace.person(person_id)
    except NotFoundError:
        return None
    return person if person.status is PersonStatus.ACTIVE else None


def _sign_in(runtime: Runtime, store: SessionStore, email: str, password: str,
             replacing: str | None) -> tuple[str, Session] | None:  # fmt: skip
    """A new session for the active person with this email and password; slow by design (Argon2id).

    An unknown email is checked against a dummy hash, so that timing does not tell which emails exist.
    """
    person_id = runtime.marketplace.person_id_for(email)
    person = _active(runtime, person_id)
    stored = runtime.personal_data.open(person.password_hash) if person is not None else None
    if not verify_password(stored, password) or person is None:
        return None
    return _start_session(runtime, store, person, replacing)


def _start_session(runtime: Runtime, store: SessionStore, person: Person,
                   replacing: str | None) -> tuple[str, Session] | None:  # fmt: skip
    """A new session id at every sign-in (whatever session the browser had ends).

    Checked once more after it is stored: a removal that happened meanwhile
    ended the person's sessions before this one existed.
    """
    organisation = runtime.marketplace.organisation(person.organisation_id)
    token, session = store.start(person_id=person.id, organisation_id=organisation.id, role=organisation.role,
                                 organisation_name=organisation.name, replacing=replacing)  # fmt: skip
    if _active(runtime, person.id) is None:
        store.end(token)
        return None
    return token, session


def signed_in(request: Request, token: str, to: str) -> Response:
    """The answer to a sign-in: the session cookie, and on to ``to`` (a path on this site)."""
    response = RedirectResponse(to, status_code=303)
    set_session_cookie(response, request, token, session_store(request))
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


async def sign_out(request: Request) -> Response:
    """End the request's session (its CSRF token is needed: 403 without) and go to the sign-in page."""
    store = session_store(request)
    session = await store.session_of(request)
    if session is not None:
        await check_csrf(request, session)
        await to_thread.run_sync(store.end, request.cookies[COOKIE])
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# Invites.


def _invited(runtime: Runtime, token: str) -> Person | None:
    """The person whose open invite this is, as the event store has it now; None if used, replaced or expired.

    The views find the person by the invite's hash (waiting once for views that
    lag behind the store); the event store says whether the invite is still open.
    """
    invite_hash = hash_invite_token(token)
    for attempt in range(2):
        with runtime.database.reader.connect() as views:
            row = runtime.view(PeopleView).by_invite(views, invite_hash)
        if row is not None or attempt:
            break
        # Look again once the views hold the store's head, even when they already do by now: they may
        # have reached it between the look above and this line, with the invite in that last batch.
        runtime.wait_for(runtime.marketplace.position, 2.0)
    if row is None:
        return None
    try:
        person = runtime.marketplace.person(row["id"])
    except NotFoundError:
        return None
    still_open = person.invite_hash is not None and hmac.compare_digest(person.invite_hash, invite_hash)
    in_time = person.invite_expires_at is not None and person.invite_expires_at > datetime.now(timezone.utc)
    return person if still_open and in_time else None


async def invite_is_open(request: Request, token: str) -> bool:
    """Whether ``/invite/{token}`` may be shown: the invite is neither used, replaced nor expired."""
    runtime: Runtime = request.app.state.runtime
    return len(token) <= 128 and await to_thread.run_sync(_invited, runtime, token) is not None


async def accept_invite(request: Request, token: str, password: str, csrf_token: str) -> tuple[str, Session]:
    """The invited person joins with this password and is signed in (a new session, as ``sign_in`` gives).

    Refuses a form without its token, an invite used, replaced or expired, and a
    short or common password (``rule`` says which rule it breaks).
    """
    runtime: Runtime = request.app.state.runtime
    if not _form_token_ok(request, csrf_token):
        raise SignInRefusedError(Refusal.FORM_EXPIRED)
    invited = None if len(token) > 128 else await to_thread.run_sync(_invited, runtime, token)
    if invited is None:
        raise SignInRefusedError(Refusal.INVITE_NOT_VALID)
    try:
        check_password(password)
    except RuleViolationError as error:
        raise SignInRefusedError(Refusal.PASSWORD_REFUSED, rule=error) from None
    password_hash = await to_thread.run_sync(hash_password, password)
    person_id = invited.id
    try:
        await runtime.commands.run(lambda: runtime.marketplace.join_person(person_id, token=token,
                                                                           password_hash=password_hash))  # fmt: skip
    except DomainError:
        raise SignInRefusedError(Refusal.INVITE_NOT_VALID) from None
    store, replacing = session_store(request), request.cookies.get(COOKIE)

    def start() -> tuple[str, Session] | None:
        person = _active(runtime, person_id)
        return _start_session(runtime, store, person, replacing) if person is not None else None

    started = await to_thread.run_sync(start)
    if started is None:
        raise SignInRefusedError(Refusal.INVITE_NOT_VALID)
    return started
