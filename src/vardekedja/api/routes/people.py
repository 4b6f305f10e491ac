"""People: invites, members, removal, the right of access and erasure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from sqlalchemy.engine import Connection

from vardekedja.api.deps import (
    SHUTTING_DOWN,
    Caller,
    CallerDep,
    OperatorDep,
    RuntimeDep,
    ViewsDep,
    WriterDep,
    command,
    settle_erasure,
)
from vardekedja.api.people_models import (
    HeldEvent,
    PersonData,
    PersonIn,
    PersonInvited,
    PersonList,
    PersonOut,
    SessionHeld,
)
from vardekedja.api.problems import ApiError
from vardekedja.api.sessions import SessionStore, session_store
from vardekedja.application import Marketplace
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.organisation import Role
from vardekedja.domain.person import PersonStatus
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime

router = APIRouter(tags=["people"])
T = TypeVar("T")


def _operator_or_member(caller: Caller, organisation_id: UUID) -> None:
    if caller.role is not Role.OPERATOR and caller.organisation_id != organisation_id:
        raise ApiError(404, f"no organisation {organisation_id}")


@router.post("/organisations/{organisation_id}/people", status_code=status.HTTP_201_CREATED,
             response_model=PersonInvited, responses=SHUTTING_DOWN)  # fmt: skip
async def invite_person(organisation_id: UUID, body: PersonIn, caller: WriterDep, runtime: RuntimeDep,
                        request: Request, response: Response) -> PersonInvited:  # fmt: skip
    """Invite a person into the organisation: the link in `invite_url` works once, for 7 days.

    Inviting someone who is already a member sends a new link and resets their
    password: their sessions end now, and they choose a new one with the link.
    """
    _operator_or_member(caller, organisation_id)
    fields = body.model_dump()
    invitation = await command(runtime, response, lambda app: app.invite_person(organisation_id, **fields))
    url = await invite_link(request, runtime, invitation)
    return PersonInvited(id=invitation.person_id, status="invited", invite_url=url)


async def invite_link(request: Request, runtime: Runtime, invitation: Any) -> str:
    """After an invite is recorded: the person's sessions end (a new invite resets their password), and the
    absolute link to ``/invite/{token}`` (the API's answer and the operator's page both give it)."""
    await to_thread.run_sync(session_store(request).end_person, invitation.person_id)
    return runtime.settings.public_url(f"/invite/{invitation.token}", str(request.base_url))


@router.get("/organisations/{organisation_id}/people", response_model=PersonList)
async def list_people(organisation_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> PersonList:
    """The organisation's members and their status: `invited`, `active` or `removed`."""
    if caller.role is not Role.OPERATOR and caller.organisation_id != organisation_id:
        raise ApiError(404, f"no organisation {organisation_id}")
    people, vault = runtime.view(PeopleView), runtime.personal_data

    def read(views: Connection) -> PersonList:
        return PersonList(items=[PersonOut.from_row(row, vault) for row in people.members(views, organisation_id)])

    return await reads.read(read)


@router.delete("/organisations/{organisation_id}/people/{person_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=SHUTTING_DOWN)  # fmt: skip
async def remove_person(organisation_id: UUID, person_id: UUID, caller: WriterDep, runtime: RuntimeDep,
                        request: Request) -> Response:  # fmt: skip
    """Remove a member; their sessions end at once."""
    _operator_or_member(caller, organisation_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    await remove_member(request, lambda run: command(runtime, response, run), organisation_id, person_id)
    return response


async def remove_member(request: Request, run: Callable[[Callable[[Marketplace], T]], Awaitable[T]],
                        organisation_id: UUID, person_id: UUID) -> T:  # fmt: skip
    """Remove a member (``run`` runs the command as its caller does); their sessions end before (so nothing
    more happens in their name) and after (a sign-in that slipped in between). The API and the operator's
    pages both use this."""
    sessions = session_store(request)
    await to_thread.run_sync(sessions.end_person, person_id)
    done = await run(lambda app: app.remove_person(organisation_id, person_id))
    await to_thread.run_sync(sessions.end_person, person_id)
    return done


@router.get("/people/{person_id}/data", response_model=PersonData)
async def person_data(person_id: UUID, caller: CallerDep, runtime: RuntimeDep, request: Request) -> PersonData:
    """Everything stored about the person, opened (the right of access): to the operator and to the person."""
    if caller.role is not Role.OPERATOR and caller.person_id != person_id:
        raise ApiError(404, f"no person {person_id}")
    return await to_thread.run_sync(held_about, runtime, session_store(request), person_id)


@router.post("/people/{person_id}/erase", response_model=PersonOut, responses=SHUTTING_DOWN)
async def erase_person(person_id: UUID, caller: OperatorDep, runtime: RuntimeDep, request: Request,
                       response: Response) -> PersonOut:  # fmt: skip
    """Erase the person's personal data: their key is deleted, so every sealed copy of their name, email and
    password hash (in events, exports and backups) can no longer be read; the views drop theirs too.

    What stays is that a person with this id was a member of the organisation, and when.
    """
    sessions = session_store(request)
    await to_thread.run_sync(sessions.end_person, person_id)

    def run(app: Marketplace) -> PersonOut:
        app.erase_person(person_id)
        person = app.person(person_id)
        return PersonOut(id=person.id, status="erased", organisation_id=person.organisation_id, name=None,
                         email=None, language=person.language, invited_at=person.created_on, joined_at=None)  # fmt: skip

    erased = await command(runtime, response, run)
    await to_thread.run_sync(sessions.end_person, person_id)
    await settle_erasure(runtime, response)
    return erased


def held_about(runtime: Runtime, sessions: SessionStore, person_id: UUID) -> PersonData:
    """What the event store, the views and the sessions hold about the person, opened."""
    app, vault = runtime.marketplace, runtime.personal_data
    try:
        person = app.person(person_id)
    except NotFoundError:
        raise ApiError(404, f"no person {person_id}") from None
    erased = person.status is PersonStatus.ERASED
    try:
        organisation_name: str | None = app.organisation(person.organisation_id).name
    except NotFoundError:
        organisation_name = None
    events = [HeldEvent(type=type(event).__name__, at=event.timestamp)
              for event in app.repository.event_store.get(person_id)]  # fmt: skip
    held = [SessionHeld(started_at=datetime.fromtimestamp(s["created_at"], timezone.utc),
                        last_used_at=datetime.fromtimestamp(s["last_seen"], timezone.utc))
            for s in sessions.of_person(person_id)]  # fmt: skip
    return PersonData(
        id=person.id, status=person.status.value, organisation_id=person.organisation_id,
        organisation_name=organisation_name, name=None if erased else vault.open(person.name),
        email=None if erased else vault.open(person.email), language=person.language,
        password_set=person.password_hash is not None, invite_open=person.invite_hash is not None,
        events=events, sessions=held,
    )  # fmt: skip
