"""Request and response bodies of people: invites, members, and what is held about a person."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from vardekedja.api.schemas import Body, Name
from vardekedja.personal_data import PersonalData

# Enough to catch a slip; whether the address works shows when the invite arrives.
Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]


class PersonIn(Body):
    name: Name
    email: Email = Field(description="Unique across the marketplace, compared without case")
    language: Literal["sv", "en"] = "sv"


class PersonInvited(BaseModel):
    id: UUID
    status: str
    invite_url: str = Field(description="Where the person chooses a password; one use, valid 7 days")


class PersonOut(BaseModel):
    id: UUID
    status: Literal["invited", "active", "removed", "erased"]
    organisation_id: UUID
    name: str | None = Field(description="None once erased")
    email: str | None = Field(description="None once erased")
    language: str
    invited_at: datetime
    joined_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any], vault: PersonalData) -> PersonOut:
        erased = row["status"] == "erased"
        return cls(
            id=row["id"], status=row["status"], organisation_id=row["organisation_id"],
            name=None if erased else vault.open(row["name"]), email=None if erased else vault.open(row["email"]),
            language=row["language"], invited_at=row["invited_at"], joined_at=row["joined_at"],
        )  # fmt: skip


class PersonList(BaseModel):
    items: list[PersonOut]


class HeldEvent(BaseModel):
    type: str
    at: datetime


class SessionHeld(BaseModel):
    started_at: datetime
    last_used_at: datetime


class PersonData(BaseModel):
    """Everything stored about a person (the right of access), opened."""

    id: UUID
    status: str
    organisation_id: UUID
    organisation_name: str | None
    name: str | None
    email: str | None
    language: str
    password_set: bool = Field(description="Only an Argon2id hash of the password is stored, sealed")
    invite_open: bool
    events: list[HeldEvent] = Field(description="What was recorded about the person, and when")
    sessions: list[SessionHeld] = Field(description="Sessions signed in now")
