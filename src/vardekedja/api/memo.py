"""What the HTTP layer keeps in memory of the views: callers found by API key, and catalogue pages.

Each ``Memo`` is attached to its view's projection (``keep_in_memory``), which
tells it of every change before the change commits (see ``KeptAnswers`` in
projections/base.py), and the runtime trusts it only while this process's own
projector is the one applying every change.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from vardekedja.runtime import Runtime

MEMO_ENTRIES = 10_000  # per view unless told otherwise; the oldest goes first
PAGES_BYTES = 32 << 20  # catalogue pages kept, at most


class Memo:
    """Answers read from one view, kept in memory, trusted only while this process's projector applies every change.

    Entries are dropped before any batch that changes the view commits (any
    event the projection handles), and an answer read while such a change was
    under way is not kept, so once a change has reached the view no entry from
    before it is left. When another process applies the changes (``vardekedja
    project``, another server worker), this process cannot see them happen, and
    nothing is kept: every read goes to the view. A rebuild swapped in under a
    running projector is noticed by its position: one that moved the view past
    where this projector had it drops everything; one swapped in at the very
    same position is a view of the same events, and what is kept stands (a
    rebuild made to take in changed projection code needs the servers
    restarted to run that code anyway, and they start with nothing kept).
    Entries are bounded in number and, where given, in bytes; the oldest go first.
    """

    def __init__(self, *, max_entries: int = MEMO_ENTRIES, max_bytes: int | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Any, tuple[Any, int]] = {}  # in the order kept: the oldest goes first
        self._bytes = 0
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._generation = 0
        self._changing = False
        self._trusted = False
        self.applied: int | None = None  # the view's position as this process's projector last committed it

    def trust(self, trusted: bool) -> None:
        """Say whether this process's projector is the one applying changes (it holds the lock)."""
        with self._lock:
            self._trusted = trusted
            self._clear()
            self._generation += 1
            self.applied = None

    def find(self, key: Any) -> Any:
        if not self._trusted or self._changing:
            return None
        entry = self._entries.get(key)
        return entry[0] if entry is not None else None

    @property
    def generation(self) -> int:
        """Read before reading the view; hand it to ``remember`` with what was read."""
        return self._generation

    def remember(self, key: Any, found: Any, generation: int, *, size: int = 0) -> None:
        """Keep ``found`` (of about ``size`` bytes) under ``key``, unless the view changed since ``generation``."""
        with self._lock:
            if not self._trusted or self._changing or generation != self._generation:
                return
            if self.max_bytes is not None and size > self.max_bytes:
                return
            self._forget(key)
            self._entries[key] = (found, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or (
                self.max_bytes is not None and self._bytes > self.max_bytes
            ):
                self._forget(next(iter(self._entries)))

    def _forget(self, key: Any) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def _clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def changing(self) -> None:
        """The view is about to change: drop everything, keep nothing until ``settled``."""
        with self._lock:
            self._changing = True
            self._clear()
            self._generation += 1

    def settled(self, applied: int | None) -> None:
        """The batch has committed at ``applied`` (None: it did not, or the position is unknown)."""
        with self._lock:
            if self._changing or applied is None:
                self._changing = False
                self._clear()
                self._generation += 1
            self.applied = applied


def keep_in_memory(runtime: Runtime) -> None:
    """Attach the memos the HTTP layer reads through to the runtime's views (once per runtime)."""
    if runtime.kept("organisations") is None:
        runtime.keep("organisations", Memo())  # callers found by API key (see deps.py)
    if runtime.kept("catalogue") is None:
        runtime.keep("catalogue", Memo(max_bytes=PAGES_BYTES))  # catalogue pages (see pages.py)


def memo(runtime: Runtime, name: str) -> Memo:
    """The memo attached to the named view (``keep_in_memory`` first)."""
    found = runtime.kept(name)
    assert found is not None, f"nothing is kept of the {name} view; call keep_in_memory first"
    return cast(Memo, found)


def keys(runtime: Runtime) -> Memo:
    """Callers found by API key, kept while this process's projector applies every change."""
    return memo(runtime, "organisations")
