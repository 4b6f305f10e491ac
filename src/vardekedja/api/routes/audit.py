"""The audit log for auditors and the operator: events with their chain hashes, streams as of a time, verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from vardekedja.api.deps import OverseerDep, RuntimeDep
from vardekedja.api.problems import ApiError
from vardekedja.api.schemas import Instant
from vardekedja.audit.encoding import event_time, stored_data
from vardekedja.audit.keys import public_key_text
from vardekedja.audit.log import verify_store
from vardekedja.audit.replay import aggregate_state
from vardekedja.personal_data import PersonalData, is_sealed, sealed_subject

router = APIRouter(prefix="/audit", tags=["audit"])
public = APIRouter(prefix="/audit", tags=["audit"])


def plain_json(value: Any) -> Any:
    """The event library's storage encoding ({"_type_": "uuid_hex", "_data_": …}) as plain JSON values.

    UUIDs are written with their hyphens, times as ISO 8601 with offset; the
    chain hash covers the stored form, which ``vardekedja audit export`` carries.
    """
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            data = value["_data_"]
            if value["_type_"] == "uuid_hex" and isinstance(data, str):
                return str(UUID(hex=data))
            return plain_json(data)
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


class AuditEvent(BaseModel):
    position: int | None
    stream_id: UUID
    version: int
    type: str
    time: str
    data: dict[str, Any] | None = Field(description="The event's fields as plain JSON (UUIDs, ISO 8601 times); "
                                                    "null where the stored bytes are no longer JSON")
    hash: str | None = Field(description="The chain hash, over the stored form that `audit export` writes")


class AuditEventPage(BaseModel):
    items: list[AuditEvent]
    next_after: int | None


class StreamOut(BaseModel):
    stream_id: UUID
    as_of: datetime | None
    version: int | None
    events: list[AuditEvent]
    state: dict[str, Any] | None


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head_position: int
    head_hash: str
    first_break: dict[str, Any] | None
    checkpoints_checked: int
    checkpoint_problems: list[dict[str, Any]]
    orders_checked: int
    money_problems: list[dict[str, Any]]
    notes: list[str]


class PublicKeyOut(BaseModel):
    algorithm: str
    public_key: str


ERASED = "(erased)"


def erasures_shown(value: Any, vault: PersonalData) -> Any:
    """The state with each sealed value whose subject was erased shown as ``(erased)``.

    Sealed values stay sealed otherwise: the audit log shows what is stored, and
    reading someone's personal data is for the operator and that person alone.
    """
    if isinstance(value, dict):
        return {key: erasures_shown(item, vault) for key, item in value.items()}
    if isinstance(value, list):
        return [erasures_shown(item, vault) for item in value]
    if is_sealed(value):
        subject = sealed_subject(value)
        return ERASED if subject is None or vault.erased(subject) else value
    return value


@router.get("/events", response_model=AuditEventPage)
def events(caller: OverseerDep, runtime: RuntimeDep,
           after: Annotated[int, Query(ge=0, le=2**62, description="Events after this position")] = 0,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AuditEventPage:  # fmt: skip
    """The event log in position order, each event with the chain hash recorded for it (null until chained)."""
    notifications = runtime.marketplace.recorder.select_notifications(after + 1, limit)
    hashes: dict[int, str] = {}
    if notifications:
        # By position, not by count: where an event is missing from the store, the chain still
        # holds its link, and a count of links would stop short of the page's last event.
        with runtime.database.reader.connect() as connection:
            links = runtime.chain.hashes_between(connection, after, notifications[-1].id)
        hashes = {row["position"]: row["hash"] for row in links}
    items = []
    for notification in notifications:
        data = stored_data(notification.state)
        items.append(AuditEvent(
            position=notification.id, stream_id=notification.originator_id, version=notification.originator_version,
            type=notification.topic, time=event_time(data), data=plain_json(data), hash=hashes.get(notification.id),
        ))  # fmt: skip
    return AuditEventPage(items=items, next_after=items[-1].position if len(items) == limit else None)


@router.get("/streams/{stream_id}", response_model=StreamOut)
def stream(stream_id: UUID, caller: OverseerDep, runtime: RuntimeDep,
           as_of: Annotated[Instant | None, Query(description="The stream as it stood then")] = None) -> StreamOut:  # fmt: skip
    """One aggregate's events, and its state rebuilt from them, optionally as of a time."""
    stored = runtime.marketplace.recorder.select_events(stream_id)
    if not stored:
        raise ApiError(404, f"no stream {stream_id}")
    items = []
    for event in stored:
        data = stored_data(event.state)
        if as_of is not None and data is not None and datetime.fromisoformat(event_time(data)) > as_of:
            break
        items.append(AuditEvent(position=None, stream_id=stream_id, version=event.originator_version,
                                type=event.topic, time=event_time(data), data=plain_json(data), hash=None))  # fmt: skip
    version = items[-1].version if items else None
    state = None
    if version is not None:
        try:
            state = erasures_shown(aggregate_state(runtime.marketplace.repository.get(stream_id, version=version)),
                                   runtime.personal_data)  # fmt: skip
        except Exception:  # noqa: BLE001 - a damaged stream: its events are listed, its state cannot be rebuilt
            state = None
    return StreamOut(stream_id=stream_id, as_of=as_of, version=version, events=items, state=state)


@router.get("/verify", response_model=VerifyOut)
async def verify(caller: OverseerDep, runtime: RuntimeDep) -> VerifyOut:
    """Recompute the hash chain from the store, check it against the recorded hashes and signed
    checkpoints, and recompute every order's money from the events alone."""
    report = await to_thread.run_sync(verify_store, runtime.audited_log)
    return VerifyOut(**report.as_dict())


@public.get("/public-key", response_model=PublicKeyOut)
def public_key(runtime: RuntimeDep) -> PublicKeyOut:
    """The Ed25519 key that signs checkpoints (base64 of its raw 32 bytes); needs no API key."""
    if runtime.chain.signing_key is None:
        raise ApiError(404, "no audit signing key")
    return PublicKeyOut(algorithm="Ed25519", public_key=public_key_text(runtime.chain.signing_key))
