"""Passwords: Argon2id hashes, and which passwords are refused.

A password has 12 to 1024 characters and must not be a common one: zxcvbn
(a maintained estimator shipping lists of the most used passwords, names and
words, and the patterns people build from them) has to rate it at least 3 of 4.
Hashing and verifying cost about 180 ms of CPU each: callers on an event loop
run them on a worker thread (``anyio.to_thread.run_sync``).
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from vardekedja.domain.errors import RuleViolationError

MIN_LENGTH = 12
MAX_LENGTH = 1024
MIN_SCORE = 3
# zxcvbn's time grows with the length; past this many characters the rest only adds strength.
RATED_PREFIX = 64

_hasher = PasswordHasher()  # Argon2id with the library's current parameters


def check_password(password: str) -> None:
    """Refuse a password that is too short, too long or common (RuleViolationError naming ``password``)."""
    if len(password) < MIN_LENGTH:
        raise RuleViolationError(f"a password has at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise RuleViolationError(f"a password has at most {MAX_LENGTH} characters", field="password")
    rating = zxcvbn(password[:RATED_PREFIX])
    if rating["score"] < MIN_SCORE:
        warning = rating["feedback"].get("warning") or "it is easy to guess"
        raise RuleViolationError(f"choose another password: {warning.rstrip('.').lower()}", field="password")


def hash_password(password: str) -> str:
    """The Argon2id hash to store (slow by design: call it off the event loop)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches (slow by design). With no hash, a dummy one is checked, so timing tells nothing."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
