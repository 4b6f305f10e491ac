"""Switches the tests read from the environment (``VARDEKEDJA_SOAK``, ``VARDEKEDJA_REQUIRE_POSTGRES``, …)."""

from __future__ import annotations

import os


def switched_on(name: str) -> bool:
    """Whether the variable ``name`` is set to anything but nothing, ``0`` or ``false``."""
    return os.environ.get(name, "") not in ("", "0", "false")
