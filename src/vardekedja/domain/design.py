"""Designs: drafted, revised and published by their designer, then ordered by revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import (
    DesignRetiredError,
    InvalidSpecificationError,
    InvalidTransitionError,
    NotOwnerError,
    NotPublishableError,
    NotPublishedError,
)
from vardekedja.domain.organisation import normalise_names

MAX_ORE = 100_000_000_00  # 100 million kronor per unit is far beyond any bench
MAX_INSPECTION_INTERVAL_MONTHS = 120
OPTIONAL = frozenset({"inspection_interval_months"})


class DesignStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclass(frozen=True)
class Specification:
    """Everything a revision fixes; prices are per unit, in öre, excluding VAT."""

    title: str
    description: str
    category: str
    materials: tuple[str, ...]
    width_mm: int
    depth_mm: int
    height_mm: int
    weight_kg: float
    required_capabilities: tuple[str, ...]
    lead_time_days: int
    licence: str
    royalty_ore: int
    production_fee_ore: int
    installation_fee_ore: int
    co2e_kg: float
    # How often each installed piece is inspected; None: no scheduled inspections.
    inspection_interval_months: int | None = None

    def check(self) -> None:
        """Refuse a specification today's rules do not allow (the commands call this; replaying does not)."""
        if not self.title.strip():
            raise InvalidSpecificationError("a design needs a title", field="title")
        if not self.category.strip():
            raise InvalidSpecificationError("a design needs a category", field="category")
        for name in ("width_mm", "depth_mm", "height_mm"):
            if not 0 < getattr(self, name) <= 100_000:
                raise InvalidSpecificationError(f"{name} must be 1–100000 mm", field=name)
        for name in ("weight_kg", "co2e_kg"):
            if not 0 <= getattr(self, name) <= 1_000_000:
                raise InvalidSpecificationError(f"{name} must be 0–1000000", field=name)
        if not 0 <= self.lead_time_days <= 3650:
            raise InvalidSpecificationError("lead_time_days must be 0–3650", field="lead_time_days")
        for name in ("royalty_ore", "production_fee_ore", "installation_fee_ore"):
            if getattr(self, name) > MAX_ORE:
                raise InvalidSpecificationError(f"{name} is too large", field=name)
        interval = self.inspection_interval_months
        if interval is not None and not 1 <= interval <= MAX_INSPECTION_INTERVAL_MONTHS:
            raise InvalidSpecificationError(
                f"inspection_interval_months must be 1–{MAX_INSPECTION_INTERVAL_MONTHS}",
                field="inspection_interval_months",
            )

    def normalised(self) -> Specification:
        """As the commands record it: category, materials and capabilities compare without case or stray spaces
        (today's rule, applied when a revision is recorded; replaying reads what was recorded)."""
        return replace(self, category=self.category.strip().casefold(),
                       materials=tuple(normalise_names(self.materials)),
                       required_capabilities=tuple(normalise_names(self.required_capabilities)))  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Specification:
        """The specification as an event recorded it, checked and changed by no rule of today."""
        # Revisions recorded before a field existed lack it: it then has its default.
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data or f.name not in OPTIONAL}
        values["materials"] = tuple(values["materials"])
        values["required_capabilities"] = tuple(values["required_capabilities"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["materials"] = list(self.materials)
        data["required_capabilities"] = list(self.required_capabilities)
        return data

    def publishing_problems(self) -> list[tuple[str, str]]:
        """What stops this revision from being published, as (field, reason)."""
        problems = []
        if not self.materials:
            problems.append(("materials", "a published design names at least one material"))
        if not self.required_capabilities:
            problems.append(("required_capabilities", "a published design needs a capability"))
        for name in ("royalty_ore", "production_fee_ore", "installation_fee_ore"):
            if getattr(self, name) < 0:
                problems.append((name, "prices are never negative"))
        if self.royalty_ore + self.production_fee_ore <= 0:
            problems.append(("royalty_ore", "royalty and production fee together must be above zero"))
        return problems


def normalised_v1(specification: dict[str, Any]) -> dict[str, Any]:
    """A specification as version 1 of ``Design.Drafted`` and ``Design.Revised`` was read: those events carry it
    as it was sent, and reading normalised category, materials and capabilities thus. History: never changed
    (a later rule for names applies to what is recorded from then on, not to what version 1 meant)."""

    def names(values: list[str]) -> list[str]:
        return sorted({value.strip().casefold() for value in values if value.strip()})

    return {**specification, "category": specification["category"].strip().casefold(),
            "materials": names(specification["materials"]),
            "required_capabilities": names(specification["required_capabilities"])}  # fmt: skip


MEDIA_KINDS = ("picture", "production_file")


def media_id(design_id: UUID, revision: int, kind: str, sha256: str) -> UUID:
    """The same file attached to the same revision as the same kind is the same media (a repeat changes nothing)."""
    return uuid5(NAMESPACE_URL, f"vardekedja:media:{design_id}:{revision}:{kind}:{sha256}")


@dataclass(frozen=True)
class Media:
    """A file attached to a revision, stored by its content hash; a picture also in smaller sizes."""

    id: UUID
    revision: int
    kind: str
    filename: str
    sha256: str
    bytes: int
    content_type: str
    variants: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "id": str(self.id), "variants": dict(self.variants)}


class Design(Aggregate):
    TOPIC = "vardekedja:Design"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Design.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Design.Event"

    class Drafted(Created):
        TOPIC = "vardekedja:Design.Drafted"
        class_version = 2  # 2: the specification is recorded normalised (version 1 was normalised on reading)
        designer_id: UUID
        specification: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["specification"] = normalised_v1(state["specification"])

    class Revised(Event):
        TOPIC = "vardekedja:Design.Revised"
        class_version = 2  # as Drafted
        revision: int
        specification: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["specification"] = normalised_v1(state["specification"])

    class Published(Event):
        TOPIC = "vardekedja:Design.Published"
        revision: int

    class Retired(Event):
        TOPIC = "vardekedja:Design.Retired"

    class MediaAttached(Event):
        """A picture or production file was attached to the draft revision; ``sha256`` names the stored
        file (and ``variants`` the smaller sizes of a picture), so the audit chain covers the files."""

        TOPIC = "vardekedja:Design.MediaAttached"
        media: dict[str, Any]

    @classmethod
    def draft(cls, designer_id: UUID, specification: Specification) -> Design:
        specification.check()
        return cls(designer_id=designer_id, specification=specification.normalised().to_dict())

    @event(Drafted)
    def __init__(self, *, designer_id: UUID, specification: dict[str, Any]) -> None:
        self.designer_id = designer_id
        self.revisions: dict[int, Specification] = {1: Specification.from_dict(specification)}
        self.published_revisions: list[int] = []
        self.retired = False
        self.media: list[Media] = []

    @property
    def status(self) -> DesignStatus:
        if self.retired:
            return DesignStatus.RETIRED
        return DesignStatus.PUBLISHED if self.published_revisions else DesignStatus.DRAFT

    @property
    def latest_revision(self) -> int:
        return max(self.revisions)

    @property
    def draft_revision(self) -> int | None:
        """The revision still open for change, if any."""
        latest = self.latest_revision
        return None if latest in self.published_revisions else latest

    @property
    def latest_published_revision(self) -> int | None:
        return max(self.published_revisions) if self.published_revisions else None

    def _check_owner(self, organisation_id: UUID) -> None:
        if organisation_id != self.designer_id:
            raise NotOwnerError("only the owning designer may change a design")

    def _check_not_retired(self) -> None:
        if self.retired:
            raise DesignRetiredError("the design is retired")

    def revise(self, organisation_id: UUID, specification: Specification) -> None:
        """Replace the open draft, or open the next revision after a publish."""
        specification.check()  # invalid input is refused first, whatever the design's state
        self._check_owner(organisation_id)
        self._check_not_retired()
        revision = self.draft_revision or self.latest_revision + 1
        self._revised(revision=revision, specification=specification.normalised().to_dict())

    @event(Revised)
    def _revised(self, revision: int, specification: dict[str, Any]) -> None:
        self.revisions[revision] = Specification.from_dict(specification)

    def publish(self, organisation_id: UUID) -> int:
        self._check_owner(organisation_id)
        self._check_not_retired()
        revision = self.draft_revision
        if revision is None:
            raise InvalidTransitionError("there is no draft revision to publish")
        problems = self.revisions[revision].publishing_problems()
        if problems:
            field, reason = problems[0]
            raise NotPublishableError("; ".join(reason for _, reason in problems), field=field)
        self._published(revision=revision)
        return revision

    @event(Published)
    def _published(self, revision: int) -> None:
        self.published_revisions.append(revision)

    def retire(self, organisation_id: UUID) -> None:
        self._check_owner(organisation_id)
        self._check_not_retired()
        self._retired()

    @event(Retired)
    def _retired(self) -> None:
        self.retired = True

    def media_of(self, revision: int | None) -> list[Media]:
        """The files a revision has: its own and those of the revisions before it."""
        return [m for m in self.media if revision is not None and m.revision <= revision]

    def attach_media(self, organisation_id: UUID, *, kind: str, filename: str, sha256: str, size: int,
                     content_type: str, variants: dict[str, str]) -> UUID:  # fmt: skip
        """Attach a stored file to the open draft; attaching the same file again changes nothing."""
        self._check_owner(organisation_id)
        self._check_not_retired()
        revision = self.draft_revision
        if revision is None:
            raise InvalidTransitionError("files are attached to a draft revision: revise the design first")
        if kind not in MEDIA_KINDS:
            raise InvalidSpecificationError("kind is picture or production_file", field="kind")
        identity = media_id(self.id, revision, kind, sha256)
        if any(m.id == identity for m in self.media_of(revision)):
            return identity
        self._media_attached(media=Media(identity, revision, kind, filename, sha256, size, content_type,
                                         dict(variants)).to_dict())  # fmt: skip
        return identity

    @event(MediaAttached)
    def _media_attached(self, media: dict[str, Any]) -> None:
        self.media.append(Media(**{**media, "id": UUID(media["id"])}))

    def orderable_revision(self, revision: int | None) -> tuple[int, Specification]:
        """The revision an order line gets: the one asked for, or the latest published."""
        self._check_not_retired()
        if revision is None:
            revision = self.latest_published_revision
        if revision is None or revision not in self.published_revisions:
            raise NotPublishedError(f"revision {revision} of this design is not published")
        return revision, self.revisions[revision]
