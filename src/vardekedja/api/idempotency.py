"""``Idempotency-Key`` on every POST: a repeat returns the first response and writes nothing.

Keys are scoped to the caller (a hash of its credentials), and remembered with a
fingerprint of the request: the same key with another body is refused (422),
and a repeat that arrives while the first is still running gets 409. A first
attempt that ended in a server error is forgotten, so it can be tried again.

A server that dies between claiming a key and recording its answer leaves the
claim behind. Each claim names the process that made it (host, process id and
that process's start time): a repeat that finds the claim of a process that
no longer runs on this host, or a claim older than ``ABANDONED_AFTER`` (from
another host, say), takes it over and runs the request again. Running again
is safe where it matters: a command that creates something takes its new id
from the key (``derived_id``), so a rerun after the first attempt was
recorded finds it and answers as the first would have (placing an order, drafting
a design), instead of creating it twice; other commands meet the state the
first attempt left and answer by the usual rules. A command that timed out
(``Vardekedja-Outcome: unknown``) keeps its claim until it is taken over so.

An answer is kept without personal data in plain text: each value the answer
opened (a delivery's ``received_by``, notes; see personal_data.py) is kept in its
sealed form, and opened again when the answer is repeated, so once its subject
is erased the repeat shows it as erased (null) and no file holds it readable.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.api.limits import is_upload
from vardekedja.api.problems import problem
from vardekedja.api.sessions import COOKIE as SESSION_COOKIE
from vardekedja.personal_data import PersonalData, noting_opened
from vardekedja.storage.types import UtcDateTime

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 200
ABANDONED_AFTER = timedelta(minutes=2)  # well past the command timeout: no request lives this long
OUTCOME_UNKNOWN = b"vardekedja-outcome"  # a 5xx with this header may have been recorded: keep its claim
_IDS = uuid.UUID("5d0c7f9e-8f3c-4a51-9b7e-9a1b7c6f2e10")


def derived_id(slot: str) -> uuid.UUID:
    """The id a creating command gives what it creates under this idempotency slot (the same on every retry)."""
    return uuid.uuid5(_IDS, slot)


def _start_ticks(pid: int) -> str | None:
    """When a process started, in clock ticks since boot (Linux); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


OWNER = f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def _owner_gone(owner: str | None) -> bool:
    """Whether the process that made a claim no longer runs (only knowable for this host's processes)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or ticks == "None":
        return False
    return _start_ticks(int(pid)) != ticks  # gone, or its pid now belongs to another process

metadata = sa.MetaData()
idempotency = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("headers", sa.JSON, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("owner", sa.String(300), nullable=True),
    sa.Column("sealed", sa.JSON, nullable=True),  # where the body holds personal data sealed (see above)
)
Path = list[str | int]


class IdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.in_flight: set[str] = set()  # slots whose request this process is still answering
        metadata.create_all(engine)
        with engine.begin() as connection:  # a store made before claims named their owner, or answers were sealed
            present = {column["name"] for column in sa.inspect(connection).get_columns("idempotency_keys")}
            if "owner" not in present:
                connection.exec_driver_sql("ALTER TABLE idempotency_keys ADD COLUMN owner VARCHAR(300)")
            if "sealed" not in present:
                kind = idempotency.c.sealed.type.compile(dialect=engine.dialect)
                connection.exec_driver_sql(f"ALTER TABLE idempotency_keys ADD COLUMN sealed {kind}")

    def claim(self, scope: str, fingerprint: str) -> dict[str, Any] | None:
        """Claim the key for this request; None if claimed, else the earlier request's record."""
        now = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as connection:
                connection.execute(idempotency.insert().values(
                    scope=scope, fingerprint=fingerprint, state="pending", created_at=now, owner=OWNER,
                ))  # fmt: skip
            return None
        except IntegrityError:
            with self.engine.connect() as connection:
                row = connection.execute(idempotency.select().where(idempotency.c.scope == scope)).mappings().first()
            if row is None:
                return {"state": "pending", "fingerprint": fingerprint}
            earlier = dict(row)
            mine_and_done = earlier["owner"] == OWNER and scope not in self.in_flight  # it timed out here
            abandoned = earlier["state"] == "pending" and earlier["fingerprint"] == fingerprint and (
                mine_and_done or _owner_gone(earlier["owner"]) or now - earlier["created_at"] > ABANDONED_AFTER)
            if abandoned and self._take_over(scope, earlier, now):
                return None
            return earlier

    def _take_over(self, scope: str, earlier: dict[str, Any], now: datetime) -> bool:
        """Claim an abandoned key for this request; False if another repeat took it first."""
        c = idempotency.c
        with self.engine.begin() as connection:
            taken = connection.execute(
                idempotency.update()
                .where(c.scope == scope, c.state == "pending", c.created_at == earlier["created_at"])
                .values(owner=OWNER, created_at=now)
            )  # fmt: skip
        return taken.rowcount == 1

    def complete(self, scope: str, status: int, headers: list[tuple[str, str]], body: bytes,
                 sealed: list[Path] | None = None) -> None:  # fmt: skip
        with self.engine.begin() as connection:
            connection.execute(
                idempotency.update().where(idempotency.c.scope == scope)
                .values(state="done", status=status, headers=headers, body=body, sealed=sealed or None)
            )  # fmt: skip

    def forget(self, scope: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(idempotency.delete().where(idempotency.c.scope == scope))


def _credentials(headers: dict[bytes, bytes]) -> bytes:
    """What the caller authenticates with: the API key, else the session cookie (each person's keys are their own)."""
    authorization = headers.get(b"authorization")
    if authorization is not None:
        return authorization
    session = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(SESSION_COOKIE, "")
    return b"session:" + session.encode("latin-1") if session else b""


class IdempotencyMiddleware:
    """Pure ASGI, so it sees the exact bytes of the request and of the response."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    @staticmethod
    def _store(scope: Scope) -> IdempotencyStore:
        """Made in the app's lifespan (so building the app opens nothing)."""
        store: IdempotencyStore = scope["app"].state.idempotency
        return store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # An upload is not held in memory to compare with a repeat: the same file attached again is the same
        # media already (its id comes from the file's hash), so a repeat records nothing anyway.
        if scope["type"] != "http" or scope["method"] != "POST" or is_upload(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or b"\x00" in key:
            detail = f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters"
            await problem(422, detail, errors=[{"field": "Idempotency-Key", "message": detail}])(scope, receive, send)
            return
        body = await self._read_body(receive)
        if isinstance(body, HTTPException):  # refused by the body limiter outside us: nothing is claimed
            if body.status_code == 413:
                await problem(413, str(body.detail))(scope, receive, send)
            else:
                detail = str(body.detail)
                await problem(422, "the request body could not be read as JSON",
                              errors=[{"field": "body", "message": detail}])(scope, receive, send)  # fmt: skip
            return
        caller = hashlib.sha256(_credentials(headers)).hexdigest()
        slot = hashlib.sha256(caller.encode() + b"\n" + key).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        earlier = await anyio.to_thread.run_sync(self._store(scope).claim, slot, fingerprint)
        if earlier is not None:
            await self._answer_repeat(earlier, fingerprint, scope, receive, send)
            return
        scope.setdefault("state", {})["idempotency_slot"] = slot  # for ``derived_id`` in the routes
        await self._run_and_remember(slot, body, scope, send)

    async def _read_body(self, receive: Receive) -> bytes | HTTPException:
        chunks, size = [], 0
        while True:
            try:
                message = await receive()
            except HTTPException as error:  # the body limiter outside us refuses a body (too large, not UTF-8)
                return error
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return HTTPException(413, "the request body is over the 1 MiB limit")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer_repeat(self, earlier: dict[str, Any], fingerprint: str, scope: Scope, receive: Receive,
                             send: Send) -> None:  # fmt: skip
        if earlier["fingerprint"] != fingerprint:
            detail = "this Idempotency-Key was used with another request"
            response = problem(422, detail, errors=[{"field": "Idempotency-Key", "message": detail}])
        elif earlier["state"] != "done":
            response = problem(409, "a request with this Idempotency-Key is still being processed; try again in a "
                               "moment", headers={"Retry-After": "2"})  # fmt: skip
        else:
            raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in earlier["headers"]]
            body = earlier["body"]
            if earlier.get("sealed"):
                body = _opened(body, earlier["sealed"], _vault(scope))
                raw = [(name, value) for name, value in raw if name.lower() != b"content-length"]
                raw.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": earlier["status"],
                        "headers": [*raw, (b"idempotent-replayed", b"true")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await response(scope, receive, send)

    async def _run_and_remember(self, slot: str, body: bytes, scope: Scope, send: Send) -> None:
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: dict[str, Any] = {}
        parts: list[bytes] = []
        held: list[Message] = []  # the answer leaves once it is remembered, so a repeat on receipt replays it

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            held.append(message)

        store = self._store(scope)
        store.in_flight.add(slot)
        try:
            with noting_opened() as opened:
                await self.app(scope, replay_body, capture)
        except BaseException:
            await anyio.to_thread.run_sync(self._store(scope).forget, slot)
            raise
        finally:
            store.in_flight.discard(slot)
        try:
            await self._remember(slot, start, parts, opened, scope)
        finally:
            for message in held:
                await send(message)

    async def _remember(self, slot: str, start: dict[str, Any], parts: list[bytes],
                        opened: list[tuple[str, str]], scope: Scope) -> None:  # fmt: skip
        status = start.get("status", 500)
        if status >= 500:
            if not any(name.lower() == OUTCOME_UNKNOWN for name, _ in start.get("headers", [])):
                await anyio.to_thread.run_sync(self._store(scope).forget, slot)
            return
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in start.get("headers", [])
                   if n.lower() not in (b"date", b"server")]  # fmt: skip
        kept = _sealed(b"".join(parts), opened)
        if kept is None:  # personal data in an answer that is not JSON: kept nowhere; a repeat runs again
            await anyio.to_thread.run_sync(self._store(scope).forget, slot)
            return
        await anyio.to_thread.run_sync(self._store(scope).complete, slot, status, headers, *kept)


def _vault(scope: Scope) -> PersonalData:
    vault: PersonalData = scope["app"].state.runtime.personal_data
    return vault


def _compact(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _sealed(body: bytes, opened: list[tuple[str, str]]) -> tuple[bytes, list[Path]] | None:
    """The answer to keep: each personal value it carries (``opened``: sealed and plain) sealed again, and where.

    None when it carries some but is not JSON (no answer of the API is so: nothing is kept rather than a plain copy).
    """
    sealed_form = {plain: sealed for sealed, plain in opened if plain}
    if not sealed_form:
        return body, []
    try:
        document = json.loads(body)
    except ValueError:
        return None
    paths: list[Path] = []

    def seal(node: Any, path: Path) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, str) and value in sealed_form:
                node[key] = sealed_form[value]
                paths.append([*path, key])
            else:
                seal(value, [*path, key])

    seal(document, [])
    return (_compact(document), paths) if paths else (body, [])


def _opened(body: bytes, paths: list[Path], vault: PersonalData) -> bytes:
    """A kept answer with its personal values opened again (null where their subject was erased meanwhile)."""
    document = json.loads(body)
    for path in paths:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = vault.open(node[path[-1]])
    return _compact(document)
