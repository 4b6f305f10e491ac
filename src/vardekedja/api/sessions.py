"""Sessions of people signed in: random ids kept server-side, a cookie that carries them, and CSRF tokens.

For the web UI, use the dependencies at the end of this module::

    from vardekedja.api.sessions import CurrentPerson, OptionalPerson

    @router.get("/orders")
    async def orders(person: CurrentPerson): ...       # 401 without a valid session
    # person.caller: the organisation and role (what API keys give), person.person_id,
    # person.csrf_token: put it in every form that changes state as <input name="csrf_token">

A session id is 256 random bits, handed out in an HttpOnly, SameSite=Lax cookie
(Secure unless the request came to a loopback address) and stored only as its
SHA-256 hash, beside the person, organisation and role it acts for. Signing in
always makes a new id and ends the one presented (no session fixation).
Sessions end after ``IDLE`` without use and ``ABSOLUTE`` after sign-in, at
sign-out, and at once when their person is removed, re-invited or erased.

Every request that changes state and is authenticated by the session cookie
must carry the session's CSRF token: the JSON API in the ``X-CSRF-Token``
header, forms in a ``csrf_token`` field; otherwise 403. Requests with an API
key (``Authorization``) are not cookie-borne and need none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from anyio import to_thread
from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from vardekedja.api.problems import ApiError
from vardekedja.domain.organisation import Role

COOKIE = "vardekedja_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
IDLE = 30 * 60.0  # seconds without a request
ABSOLUTE = 12 * 3600.0  # seconds since signing in
TOUCH_EVERY = 60.0  # last use is written at most this often (a write per request would cost more than the request)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SESSION_DESCRIPTION = "A signed-in person's session cookie; writes also need the `X-CSRF-Token` header"

metadata = sa.MetaData()
sessions_table = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("organisation_id", sa.Uuid, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("organisation_name", sa.Text, nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)


_FIND = ("SELECT id_hash, person_id, organisation_id, role, organisation_name, csrf_token, created_at, last_seen "
         "FROM sessions WHERE id_hash = ?")


@dataclass(frozen=True)
class Session:
    id_hash: str
    person_id: UUID
    organisation_id: UUID
    role: Role
    organisation_name: str
    csrf_token: str
    created_at: float
    last_seen: float


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """The server-side sessions, in their own table (its own file on SQLite), shared by every server process."""

    def __init__(self, engine: Engine, *, idle: float = IDLE, absolute: float = ABSOLUTE,
                 reads_on_loop: bool = True) -> None:  # fmt: skip
        self.engine, self.idle, self.absolute = engine, idle, absolute
        # On SQLite a read is local and short (see ``Views``); on PostgreSQL it is a round trip.
        self.reads_on_loop = reads_on_loop
        metadata.create_all(engine)
        self._select = sessions_table.select().where(sessions_table.c.id_hash == sa.bindparam("h"))
        # On SQLite each thread that looks sessions up keeps one connection of its own and asks it directly:
        # through the engine's pool and statement layer a look-up cost several times the query.
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()

    @classmethod
    def for_settings(cls, settings: Any) -> SessionStore:
        from vardekedja.storage.engines import postgres_engine, sqlite_engine

        if settings.uses_postgres:
            return cls(postgres_engine(settings), reads_on_loop=False)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_engine(str(settings.data_dir / "sessions.sqlite3"), begin="BEGIN IMMEDIATE"))

    def start(self, *, person_id: UUID, organisation_id: UUID, role: Role, organisation_name: str,
              replacing: str | None = None) -> tuple[str, Session]:  # fmt: skip
        """A new session (and its id, to hand out once); the one presented, if any, ends."""
        token, now = secrets.token_urlsafe(32), time.time()
        session = Session(_hash(token), person_id, organisation_id, role, organisation_name,
                          secrets.token_urlsafe(32), now, now)  # fmt: skip
        with self.engine.begin() as connection:
            if replacing:
                connection.execute(sessions_table.delete().where(sessions_table.c.id_hash == _hash(replacing)))
            connection.execute(sessions_table.insert().values(
                id_hash=session.id_hash, person_id=person_id, organisation_id=organisation_id, role=role.value,
                organisation_name=organisation_name, csrf_token=session.csrf_token, created_at=now, last_seen=now,
            ))  # fmt: skip
        return token, session

    def find(self, token: str) -> tuple[Session | None, bool]:
        """The live session with this id, and whether its last use should be written (``touch``)."""
        if self._sqlite:
            # fetchall: a statement left unfinished would hold a read transaction open between look-ups.
            rows = self._own_connection().execute(_FIND, (_hash(token),)).fetchall()
            if not rows:
                return None, False
            row = rows[0]
            values = (row[0], UUID(row[1]), UUID(row[2]), *row[3:])
        else:
            with self.engine.connect() as connection:
                found = connection.execute(self._select, {"h": _hash(token)}).first()
            if found is None:
                return None, False
            values = tuple(found)
        session = Session(values[0], values[1], values[2], Role(values[3]), *values[4:])
        now = time.time()
        if now - session.created_at > self.absolute or now - session.last_seen > self.idle:
            return None, False
        return session, now - session.last_seen > TOUCH_EVERY

    def _own_connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.engine.raw_connection()
        return connection

    def touch(self, session: Session) -> None:
        with self.engine.begin() as connection:
            connection.execute(sessions_table.update().where(sessions_table.c.id_hash == session.id_hash)
                               .values(last_seen=time.time()))  # fmt: skip

    def end(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sessions_table.delete().where(sessions_table.c.id_hash == _hash(token)))

    def end_person(self, person_id: UUID) -> int:
        """End every session of the person (removed, re-invited or erased); how many there were."""
        now = time.time()
        with self.engine.begin() as connection:
            ended = connection.execute(sessions_table.delete().where(sessions_table.c.person_id == person_id)).rowcount
            # Expired sessions go too, now and then: nothing else reads them.
            connection.execute(sessions_table.delete().where(
                sa.or_(sessions_table.c.created_at < now - self.absolute, sessions_table.c.last_seen < now - self.idle)
            ))  # fmt: skip
        return int(ended or 0)

    def of_person(self, person_id: UUID) -> list[dict[str, float]]:
        """When each of the person's sessions began and was last used (for the right of access)."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(sessions_table.c.created_at, sessions_table.c.last_seen)
                                      .where(sessions_table.c.person_id == person_id)).all()  # fmt: skip
        return [{"created_at": row[0], "last_seen": row[1]} for row in rows]

    def dispose(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self.engine.dispose()

    # For requests.

    async def session_of(self, request: Request) -> Session | None:
        """The request's live session, or None (no cookie, unknown, ended or expired)."""
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 128:
            return None
        if self.reads_on_loop:
            session, stale = self.find(token)
        else:
            session, stale = await to_thread.run_sync(self.find, token)
        if session is not None and stale:
            await to_thread.run_sync(self.touch, session)
        return session

    async def signed_in(self, request: Request) -> Session:
        """The request's session, checked for CSRF when the request changes state; 401 or 403 otherwise."""
        session = await self.session_of(request)
        if session is None:
            raise ApiError(401, "sign in again: the session has ended", headers={"WWW-Authenticate": "Bearer"})
        if request.method not in SAFE_METHODS:
            await check_csrf(request, session)
        return session


async def check_csrf(request: Request, session: Session) -> None:
    """403 unless the request carries the session's CSRF token (header, or form field for forms)."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if presented is None or not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
        raise ApiError(403, "this request needs the session's CSRF token (X-CSRF-Token header or csrf_token field)")


def secure_cookie(request: Request) -> bool:
    """Cookies are Secure unless the request came over plain HTTP to a loopback address."""
    return request.url.scheme == "https" or (request.url.hostname or "") not in LOOPBACK


def set_session_cookie(response: Any, request: Request, token: str, store: SessionStore) -> None:
    response.set_cookie(COOKIE, token, max_age=int(store.absolute), httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/")  # fmt: skip


def clear_session_cookie(response: Any, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookie(request))


def session_store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


@dataclass(frozen=True)
class SignedIn:
    """A signed-in person: who, for which organisation and role, and the CSRF token for their forms."""

    session: Session

    @property
    def person_id(self) -> UUID:
        return self.session.person_id

    @property
    def organisation_id(self) -> UUID:
        return self.session.organisation_id

    @property
    def role(self) -> Role:
        return self.session.role

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


async def current_person(request: Request) -> SignedIn:
    """The signed-in person (401 without a live session; 403 for a state change without the CSRF token)."""
    return SignedIn(await session_store(request).signed_in(request))


async def optional_person(request: Request) -> SignedIn | None:
    """The signed-in person, or None; no CSRF check (for pages that only read)."""
    session = await session_store(request).session_of(request)
    return SignedIn(session) if session is not None else None


CurrentPerson = Annotated[SignedIn, Depends(current_person)]
OptionalPerson = Annotated[SignedIn | None, Depends(optional_person)]
