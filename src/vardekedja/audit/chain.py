"""The hash chain, made as events are recorded, and its signed checkpoints.

The chain follows the event store like a projection does: in position order,
in batches, each batch's hashes written in one transaction. It is never
rebuilt — a rebuild would bless whatever the store holds now — and it keeps
its rows in the views' database, apart from the events it vouches for. Every
``checkpoint_every`` events (and at least every ``checkpoint_seconds`` while
events arrive) the head is signed with the Ed25519 key from the data folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import Notification
from sqlalchemy.engine import Connection

from vardekedja.audit.encoding import GENESIS, canonical, chain, checkpoint_message, event_time
from vardekedja.storage.types import UtcDateTime


class AuditChain:
    name = "audit_chain"

    def __init__(self, signing_key: Ed25519PrivateKey | None, *, checkpoint_every: int = 1000,
                 checkpoint_seconds: float = 60.0) -> None:  # fmt: skip
        self.signing_key = signing_key
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.metadata = sa.MetaData()
        self.links = sa.Table(
            "audit_chain", self.metadata,
            sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("stream_id", sa.String(36), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
        )  # fmt: skip
        self.checkpoints = sa.Table(
            "audit_checkpoints", self.metadata,
            sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("head", sa.String(64), nullable=False),
            sa.Column("signature", sa.String(128), nullable=False),
            sa.Column("signed_at", UtcDateTime, nullable=False),
        )  # fmt: skip
        self._last_checkpoint_at = time.monotonic()
        # Built once; the projector runs them every batch.
        self._head = sa.select(self.links.c.position, self.links.c.hash).order_by(self.links.c.position.desc()).limit(1)
        self._insert = self.links.insert()
        self._last_checkpoint = sa.select(sa.func.max(self.checkpoints.c.position))
        self._last_checkpoint_position: int | None = None  # read once; only the projector holding the lock signs

    def create(self, connection: Connection) -> None:
        self.metadata.create_all(connection)

    def head(self, connection: Connection) -> tuple[int, str]:
        """The last chained position and its hash (0 and the genesis hash before any event)."""
        row = connection.execute(self._head).first()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def position(self, connection: Connection) -> int:
        return self.head(connection)[0]

    def process(self, connection: Connection, notifications: Sequence[Notification]) -> int:
        """Chain the notifications past the head, in the caller's transaction; return how many."""
        position, previous = self.head(connection)
        rows = []
        for notification in notifications:
            if notification.id <= position:
                continue
            data = json.loads(notification.state)
            encoded = canonical(notification.id, str(notification.originator_id), notification.originator_version,
                                notification.topic, event_time(data), data)  # fmt: skip
            previous = chain(previous, encoded)
            rows.append({"position": notification.id, "stream_id": str(notification.originator_id),
                         "version": notification.originator_version, "hash": previous})  # fmt: skip
        if rows:
            connection.execute(self._insert, rows)
            self._maybe_checkpoint(connection, rows[-1]["position"], previous)
        return len(rows)

    def _maybe_checkpoint(self, connection: Connection, position: int, head: str) -> None:
        if self.signing_key is None:
            return
        if self._last_checkpoint_position is None:
            self._last_checkpoint_position = connection.execute(self._last_checkpoint).scalar() or 0
        last = self._last_checkpoint_position
        due = position - last >= self.checkpoint_every or (
            time.monotonic() - self._last_checkpoint_at >= self.checkpoint_seconds and position > last
        )
        if due:
            self.sign(connection, position, head)

    def sign(self, connection: Connection, position: int, head: str) -> None:
        assert self.signing_key is not None
        signature = self.signing_key.sign(checkpoint_message(position, head)).hex()
        connection.execute(self.checkpoints.insert().values(
            position=position, head=head, signature=signature, signed_at=datetime.now(timezone.utc)
        ))  # fmt: skip
        self._last_checkpoint_at = time.monotonic()
        self._last_checkpoint_position = position

    def settled(self, committed: bool) -> None:
        """The transaction of the last ``process`` has ended; unless it committed, reread the last checkpoint."""
        if not committed:
            self._last_checkpoint_position = None

    def sign_head(self, connection: Connection) -> tuple[int, str] | None:
        """Sign the current head now if no checkpoint covers it (before an export, say)."""
        position, head = self.head(connection)
        if position == 0 or self.signing_key is None:
            return None
        exists = connection.execute(
            sa.select(self.checkpoints.c.position).where(self.checkpoints.c.position == position)
        ).first()
        if exists is None:
            self.sign(connection, position, head)
        return position, head

    def hashes(self, connection: Connection, after: int, limit: int) -> list[dict[str, Any]]:
        rows = connection.execute(
            self.links.select().where(self.links.c.position > after).order_by(self.links.c.position).limit(limit)
        ).mappings()
        return [dict(row) for row in rows]

    def hashes_between(self, connection: Connection, after: int, up_to: int) -> list[dict[str, Any]]:
        """The links of the positions after ``after`` up to and including ``up_to``."""
        links = self.links.c
        rows = connection.execute(
            self.links.select().where(links.position > after, links.position <= up_to).order_by(links.position)
        ).mappings()
        return [dict(row) for row in rows]

    def hash_at(self, connection: Connection, position: int) -> str | None:
        if position == 0:
            return GENESIS
        return connection.execute(sa.select(self.links.c.hash).where(self.links.c.position == position)).scalar()

    def all_checkpoints(self, connection: Connection, after: int = 0) -> list[dict[str, Any]]:
        rows = connection.execute(
            self.checkpoints.select().where(self.checkpoints.c.position > after).order_by(self.checkpoints.c.position)
        ).mappings()
        return [
            {"position": row["position"], "head": row["head"], "signature": row["signature"],
             "signed_at": row["signed_at"].isoformat()}
            for row in rows
        ]  # fmt: skip
