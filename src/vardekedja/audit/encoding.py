"""The canonical form of an event that the hash chain covers.

An event is hashed as UTF-8 JSON with sorted keys and no spaces:
``{"data":…,"position":…,"stream_id":…,"time":…,"type":…,"version":…}``, where
``data`` is the event's stored state as JSON. Each hash is SHA-256 over the
previous hash (64 hex digits; zeros before the first event) followed by that
encoding, so changing, removing, inserting or reordering any event changes
every hash from there on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64

# One encoder for every event: ``json.dumps`` with these options would build a new one per call, and
# ``JSONEncoder.encode`` still builds its C encoder per call, so that is made once here, with exactly the
# arguments ``encode`` gives it. (Cycles cannot occur in decoded JSON, so they are not looked for.)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False)
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _make_c_encoder is not None:
    _chunks = _make_c_encoder(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True,
                              False, True)  # fmt: skip
else:  # pragma: no cover - a Python without the C accelerator
    _chunks = _ENCODER.iterencode


def canonical(position: int, stream_id: str, version: int, type_: str, time: str, data: Any) -> bytes:
    record = {"data": data, "position": position, "stream_id": stream_id, "time": time, "type": type_,
              "version": version}  # fmt: skip
    return "".join(_chunks(record, 0)).encode()


UNDECODABLE = "(undecodable)"


def stored_data(state: bytes) -> Any:
    """An event's stored state as JSON, or None where its bytes are no longer JSON (damaged in the store)."""
    try:
        return json.loads(state)
    except ValueError:  # not UTF-8, or not JSON
        return None


def chain(previous: str, encoded: bytes) -> str:
    return hashlib.sha256(previous.encode() + encoded).hexdigest()


def event_time(data: Any) -> str:
    """The time the library stamped on the event, as ISO 8601 with offset ("" where it cannot be read)."""
    if not isinstance(data, dict):
        return ""
    stamp = data.get("timestamp")
    if isinstance(stamp, dict):
        return str(stamp.get("_data_", ""))
    return str(stamp or "")


def checkpoint_message(position: int, head: str) -> bytes:
    """What a checkpoint signs: the chain head at a position."""
    return f"vardekedja-checkpoint:{position}:{head}".encode()
