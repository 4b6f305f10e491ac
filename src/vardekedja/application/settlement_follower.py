"""The settlement follower: moves the money its projection says is due, one payout at a time.

It reads the ``settlement`` view (projections/settlement.py: payouts with a
transfer or a reversal due, whose party can receive) and calls
``Marketplace.pay_out`` for each, which decides again from the payout's own
events and records what the provider did. A payout whose last attempt failed
waits ``base × 2^(failures-1)`` seconds (at most ``ceiling``) before the next;
its failures are recorded as events, so the operator sees them
(``GET /v1/payouts/transfer-failures``) and the waits survive a restart.

Run one per database, beside the active projector (``Runtime.follow``): a
second one would only make the provider answer twice with the same transfer
(the idempotency keys), never pay twice, but it would waste calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from vardekedja.domain.errors import DomainError

log = logging.getLogger(__name__)


class SettlementFollower:
    def __init__(self, pay_out: Callable[[UUID], str], due: Callable[[], list[dict[str, Any]]], *,
                 base: float = 30.0, ceiling: float = 6 * 3600.0, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.pay_out = pay_out
        self.due = due
        self.base = base
        self.ceiling = ceiling
        self.clock = clock
        self.wake = threading.Event()

    def next_attempt(self, failures: int, last_failed_at: datetime | None) -> float:
        """When (POSIX seconds) a payout that failed ``failures`` times in a row may be tried again."""
        if not failures or last_failed_at is None:
            return 0.0
        return last_failed_at.timestamp() + min(self.ceiling, self.base * 2 ** (failures - 1))

    def run_once(self) -> Counter[str]:
        """One pass over what is due now; how many payouts ended which way."""
        outcomes: Counter[str] = Counter()
        now = self.clock()
        for row in self.due():
            if self.next_attempt(row["failures"], row["last_failed_at"]) > now:
                outcomes["backing off"] += 1
                continue
            try:
                outcomes[self.pay_out(row["payout_id"])] += 1
            except DomainError as error:  # a rule refused (a conflict that kept losing, say): next pass
                log.warning("payout %s: %s", row["payout_id"], error)
                outcomes["refused"] += 1
        return outcomes

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Pass after pass until ``stop``; ``wake`` starts the next pass at once."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database or the provider hiccuped: log, wait, go on
                log.exception("settlement pass failed")
            self.wake.wait(interval)
            self.wake.clear()
