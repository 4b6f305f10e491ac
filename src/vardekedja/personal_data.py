"""Personal data, sealed under one key per data subject, so that it can be erased from an append-only log.

Events cannot be rewritten (the audit chain covers them), so personal data goes
into them only sealed: encrypted with AES-GCM under a key of its own subject (a
person, a delivery's recipient, a fault reporter). The keys live outside the
event store, in a table of their own. Erasing a subject deletes its key: every
sealed value of that subject, in every event, export and backup of the log, can
no longer be opened, while the chain over the stored bytes still verifies
(crypto-shredding).

Usage::

    vault = PersonalData.in_memory()          # or PersonalData.for_settings(settings)
    sealed = vault.seal(subject_id, "Anna Berg")   # 'pd1.<subject>.<nonce+ciphertext>'
    vault.open(sealed)                        # 'Anna Berg'; None once the subject is erased
    vault.erase(subject_id)                   # the key is gone; opening answers None from now on
    vault.digest("anna@example.se")           # a keyed hash for look-ups (not reversible without the key)

``open`` hands back a value that is not sealed as it is: stores written before
sealing hold some fields in plain text (see the README). On SQLite the keys
file has ``secure_delete`` on and its write-ahead log is checkpointed after an
erasure, so a deleted key leaves no copy in the files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine

PREFIX = "pd1"
NONCE_BYTES = 12
CACHED_KEYS = 100_000  # 32 bytes each; a process that opens more reads the rest from the table
FRESH_KEYS = 32  # keys for new subjects made ahead in one write (see ``new_subject``)
DIGEST_SECRET = "lookup-digest"
# How often a process looks for erasures made by another process (on its next use of a key it keeps):
# erasing answers only after this long, so by then no process opens the subject's data any more.
ERASURES_CHECKED_EVERY = 0.5

metadata = sa.MetaData()
keys_table = sa.Table(
    "personal_data_keys",
    metadata,
    sa.Column("subject", sa.String(36), primary_key=True),
    sa.Column("key", sa.LargeBinary, nullable=True),  # NULL once erased: the subject never gets a key again
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("erased_at", sa.String(32), nullable=True),
)
# One row per erasure, in the order made: other processes drop the keys they keep of these subjects.
erasures_table = sa.Table(
    "personal_data_erasures",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(36), nullable=False),
)
secrets_table = sa.Table(
    "personal_data_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("secret", sa.LargeBinary, nullable=False),
)


class ErasedSubjectError(Exception):
    """The data subject was erased: nothing more is sealed under it."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ".")


def sealed_subject(value: str) -> UUID | None:
    """The subject a sealed value belongs to (None for a value that is not sealed)."""
    if not is_sealed(value):
        return None
    try:
        return UUID(value.split(".", 2)[1])
    except (IndexError, ValueError):
        return None


_noted: ContextVar[list[tuple[str, str]] | None] = ContextVar("vardekedja_opened_personal_data", default=None)


@contextmanager
def noting_opened() -> Iterator[list[tuple[str, str]]]:
    """Note each (sealed, plain) pair that ``open`` hands out within this context (and copies of it), so that an
    answer kept for later (api/idempotency.py) can hold those values sealed instead of in plain text."""
    noted: list[tuple[str, str]] = []
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class PersonalData:
    """Seals and opens personal data; erases a subject by deleting its key."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self._memory: dict[str, bytes | None] = {}  # the store itself when there is no engine
        self._cache: OrderedDict[str, bytes] = OrderedDict()  # keys in use, the least recently used goes first
        self._lock = threading.Lock()
        self._digest_key: bytes | None = None
        self._fresh: list[tuple[UUID, bytes]] = []  # subjects whose keys are stored and not yet used
        self._erasures_seen: int | None = None  # the last erasure this process has dropped the key of
        self._erasures_due = 0.0  # when to look for erasures next (time.monotonic)
        if engine is not None:
            metadata.create_all(engine)

    @classmethod
    def in_memory(cls) -> PersonalData:
        """Keys in this process only (unit tests, the in-memory event store)."""
        return cls(None)

    @classmethod
    def for_settings(cls, settings: Any) -> PersonalData:
        """Keys in ``personal_data_keys``: on PostgreSQL in the schema, on SQLite in their own file."""
        from vardekedja.storage.engines import postgres_engine, sqlite_engine

        if settings.uses_postgres:
            return cls(postgres_engine(settings))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_engine(str(settings.data_dir / "keys.sqlite3"), begin="BEGIN IMMEDIATE"))

    # Sealing and opening.

    def seal(self, subject: UUID, text: str) -> str:
        """``text`` encrypted under the subject's key (made on first use); the subject is bound in."""
        key = self._key(subject, create=True)
        if key is None:
            raise ErasedSubjectError(f"data subject {subject} was erased")
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, text.encode(), str(subject).encode())
        return f"{PREFIX}.{subject}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def new_subject(self) -> UUID:
        """A data subject of its own (a fault's reporter), with its key made already.

        Keys for new subjects are made ahead, ``FRESH_KEYS`` at a time in one write, since a new subject has
        nothing to look up: a report costs no write of its own to the key store. Each subject still has its
        own key; the few made ahead and never used when the process stops seal nothing.
        """
        with self._lock:
            if not self._fresh:
                made = [(uuid4(), AESGCM.generate_key(bit_length=256)) for _ in range(FRESH_KEYS)]
                if self.engine is not None:
                    with self.engine.begin() as connection:
                        connection.execute(keys_table.insert(), [{"subject": str(subject), "key": key,
                                                                  "created_at": _now()} for subject, key in made])
                self._fresh = made
            subject, key = self._fresh.pop()
            name = str(subject)
            if self.engine is None:
                self._memory[name] = key
            self._cache[name] = key
            if len(self._cache) > CACHED_KEYS:
                self._cache.popitem(last=False)
        return subject

    def open(self, value: str | None) -> str | None:
        """The plain text of a sealed value; None once its subject is erased. Plain values pass as they are."""
        if value is None or not is_sealed(value):
            return value
        subject = sealed_subject(value)
        if subject is None:
            return None
        key = self._key(subject, create=False)
        if key is None:
            return None
        blob = base64.urlsafe_b64decode(value.split(".", 2)[2])
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], str(subject).encode()).decode()
        except InvalidTag:
            return None
        noted = _noted.get()
        if noted is not None:
            noted.append((value, plain))
        return plain

    def erase(self, subject: UUID) -> None:
        """Delete the subject's key for good (a tombstone stays, so it is never given another)."""
        name = str(subject)
        with self._lock:
            self._cache.pop(name, None)
            if self.engine is None:
                self._memory[name] = None
                return
        with self.engine.begin() as connection:
            updated = connection.execute(
                keys_table.update().where(keys_table.c.subject == name).values(key=None, erased_at=_now())
            ).rowcount
            if not updated:
                connection.execute(keys_table.insert().values(subject=name, key=None, created_at=_now(),
                                                              erased_at=_now()))  # fmt: skip
            connection.execute(erasures_table.insert().values(subject=name))
        checkpoint(self.engine)

    def erased(self, subject: UUID) -> bool:
        return self._key(subject, create=False) is None

    def forget(self, subject: UUID) -> None:
        """Drop this process's copy of the subject's key (another process erased it)."""
        with self._lock:
            self._cache.pop(str(subject), None)

    def digest(self, text: str) -> str:
        """A keyed hash of ``text`` for finding a record by it (an email) without storing it."""
        if self._digest_key is None:
            self._digest_key = self._secret(DIGEST_SECRET)
        return hmac.new(self._digest_key, text.encode(), hashlib.sha256).hexdigest()

    # Keys.

    def _key(self, subject: UUID, *, create: bool) -> bytes | None:
        name = str(subject)
        if self.engine is not None and time.monotonic() >= self._erasures_due:
            self._drop_erased()
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._lock:
            if self.engine is None:
                if name not in self._memory and create:
                    self._memory[name] = AESGCM.generate_key(bit_length=256)
                key = self._memory.get(name)
            else:
                key = self._stored_key(name, create)
            if key is not None:
                self._cache[name] = key
                if len(self._cache) > CACHED_KEYS:
                    self._cache.popitem(last=False)
            return key

    def _drop_erased(self) -> None:
        """Drop the keys kept here of subjects erased since the last look (by any process)."""
        assert self.engine is not None
        e = erasures_table.c
        with self.engine.begin() as connection:
            if self._erasures_seen is None:  # the first look: keys are read from the table from now on
                found = [(connection.execute(sa.select(sa.func.max(e.number))).scalar_one_or_none() or 0, "")]
            else:
                found = list(connection.execute(sa.select(e.number, e.subject).where(e.number > self._erasures_seen)))
        with self._lock:
            for number, subject in found:
                self._cache.pop(subject, None)
                self._erasures_seen = max(self._erasures_seen or 0, number)
            self._erasures_due = time.monotonic() + ERASURES_CHECKED_EVERY

    def _stored_key(self, name: str, create: bool) -> bytes | None:
        assert self.engine is not None
        select = sa.select(keys_table.c.key, keys_table.c.erased_at).where(keys_table.c.subject == name)
        with self.engine.begin() as connection:
            row = connection.execute(select).first()
        if row is None and create:
            key = AESGCM.generate_key(bit_length=256)
            try:
                with self.engine.begin() as connection:
                    connection.execute(keys_table.insert().values(subject=name, key=key, created_at=_now()))
                return key
            except sa.exc.IntegrityError:  # another process made the subject's key first: use theirs
                with self.engine.begin() as connection:
                    row = connection.execute(select).first()
        return None if row is None else row[0]

    def _secret(self, name: str) -> bytes:
        if self.engine is None:
            with self._lock:
                return self._memory.setdefault(f"secret:{name}", secrets.token_bytes(32)) or b""
        select = sa.select(secrets_table.c.secret).where(secrets_table.c.name == name)
        with self.engine.begin() as connection:
            found = connection.execute(select).scalar_one_or_none()
        if found is None:
            try:
                with self.engine.begin() as connection:
                    connection.execute(secrets_table.insert().values(name=name, secret=secrets.token_bytes(32)))
            except sa.exc.IntegrityError:
                pass  # another process made it first: use theirs
            with self.engine.begin() as connection:
                found = connection.execute(select).scalar_one()
        return bytes(found)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def checkpoint(engine: Engine) -> None:
    """On SQLite, move the write-ahead log into the database file and empty it (erased bytes leave the WAL)."""
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
