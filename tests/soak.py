"""Sizes for the soak-like tests: small in the suite, long under ``make soak``.

A soak-like test repeats a fault or loads many events. The suite runs it at a size that still takes the
same path (a kill in the middle, a real race, both databases), and ``VARDEKEDJA_SOAK=1`` (what
``make soak`` sets) runs it at the size that finds the rare interleavings.
"""

from __future__ import annotations

from typing import TypeVar

from tests.environment import switched_on

T = TypeVar("T")

LONG = switched_on("VARDEKEDJA_SOAK")


def soak(small: T, long: T) -> T:
    """``long`` under ``VARDEKEDJA_SOAK=1``, else ``small``."""
    return long if LONG else small
