"""API keys: random high-entropy tokens, shown once and stored as a fast hash.

A key reads ``vk_<id>_<secret>``: the id finds the organisation's stored hash,
the secret is checked against it. The secret carries 256 bits of randomness,
so SHA-256 is as strong here as a slow password hash and costs microseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from vardekedja.domain.errors import RuleViolationError

API_KEY_PREFIX = "vk"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class IssuedKey:
    organisation_id: UUID
    key_id: str
    api_key: str
    position: int


def hash_api_key(secret: str) -> str:
    """API keys are 256-bit random tokens, so a fast hash is as strong as a slow one."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """Return (key id, the key to show once, the hash to store)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{secret}", hash_api_key(secret)


def split_api_key(api_key: str) -> tuple[str, str] | None:
    """Return (key id, secret) of a well-formed key, else None."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def key_parts(api_key: str | None) -> tuple[str, str, str]:
    """A new key's (id, key, hash), or those of a given well-formed key."""
    if api_key is None:
        return new_api_key()
    parts = split_api_key(api_key)
    if parts is None or len(parts[1]) < MIN_SECRET_LENGTH:
        raise RuleViolationError(
            f"an API key looks like {API_KEY_PREFIX}_<id>_<secret of {MIN_SECRET_LENGTH}+ characters>",
            field="api_key",
        )
    return parts[0], api_key, hash_api_key(parts[1])
