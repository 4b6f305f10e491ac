"""What every command of the marketplace stands on: its settings and how it loads aggregates."""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from typing import ClassVar, TypeVar, cast
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import PersistenceError

from vardekedja.application.damage import locate
from vardekedja.application.payments import PaymentGateway
from vardekedja.application.rounds import RoundsApplication
from vardekedja.domain.delivery import Delivery, delivery_id
from vardekedja.domain.design import Design
from vardekedja.domain.directory import DIRECTORY_ID, SNAPSHOT_EVERY, Directory
from vardekedja.domain.errors import ForbiddenError, NotFoundError
from vardekedja.domain.order import Order
from vardekedja.domain.organisation import Organisation, Role
from vardekedja.domain.payout import Payout, payout_id
from vardekedja.domain.production import ProductionOrder
from vardekedja.personal_data import PersonalData

A = TypeVar("A", bound=Aggregate)


def _noun(kind: type) -> str:
    """ "production order" for ProductionOrder: the aggregate as a person names it."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", kind.__name__).lower()


class MarketplaceBase(RoundsApplication):
    """The marketplace's settings and loaders; the commands live in mixins beside this module."""

    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {Directory: SNAPSHOT_EVERY}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        platform_fee_rate: Fraction = Fraction(10, 100),
        payments: PaymentGateway | None = None,
        personal_data: PersonalData | None = None,
    ) -> None:
        super().__init__(env)
        self.platform_fee_rate = platform_fee_rate
        self.payments = payments
        self._listed: Directory | None = None  # see ``listed``
        self._listed_lock = threading.Lock()
        # Personal data reaches events only sealed under its subject's key (personal_data.py).
        self.personal_data = personal_data if personal_data is not None else PersonalData.in_memory()

    def seal_text(self, field: str, record_id: UUID, text: str) -> str:
        """Free text that may name people (notes, who received a delivery), sealed under a data subject of its
        own, derived from the record and the field so that it can be erased by them. Blank text stays as it
        is, so that the domain can refuse it."""
        if not text.strip():
            return text
        return self.personal_data.seal(uuid5(record_id, field), text.strip())

    def _get(self, kind: type[A], aggregate_id: UUID) -> A:
        try:
            aggregate = self._load(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {_noun(kind)} {aggregate_id}") from None
        except PersistenceError:  # the store is away or busy: not damage
            raise
        except Exception as error:  # noqa: BLE001 - its stored events cannot be read back: say where
            raise locate(self, aggregate_id, error) from error
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"no {_noun(kind)} {aggregate_id}")
        return aggregate

    def directory(self) -> Directory:
        """The directory to change (registering): a private copy of the current one (see ``listed``).

        Its version is the stream's, so saving it after another registration
        has moved the stream on is a conflict, and ``retrying`` runs the command
        again on fresh state. In a round it is the round's own copy.
        """
        if self._round is not None:
            return self.listed()
        current = self._listed_now()
        return current if current.pending_events else current.copy()

    def listed(self) -> Directory:
        """The directory to read (placing an order), as it stands now. Never change what this returns.

        The stream grows with every organisation, so it is not loaded for every
        read: one copy is kept and brought up to date with the events recorded
        since (one small query, ``_listed_now``). A newer copy replaces it rather
        than changing it, so a reader holding the old one is never disturbed.
        In a round the directory is read as the round has it: kept by the
        round-running thread (no query at all while nobody else writes), or a
        private copy of the current one, which a registration in the round may change.
        """
        round_ = self._round
        if round_ is None:
            return self._listed_now()
        if DIRECTORY_ID in round_.aggregates or DIRECTORY_ID in self._kept:
            return cast(Directory, self._load(DIRECTORY_ID))
        current = self._listed_now()
        if current.pending_events:  # no directory recorded yet
            return current
        own = round_.aggregates[DIRECTORY_ID] = current.copy()
        round_.loaded.add(DIRECTORY_ID)
        return own

    def _listed_now(self) -> Directory:
        with self._listed_lock:
            current = self._listed
            try:
                if current is None:
                    try:
                        current = cast(Directory, self.repository.get(DIRECTORY_ID))
                    except AggregateNotFoundError:
                        return Directory()
                else:
                    newer = list(self.repository.event_store.get(DIRECTORY_ID, gt=current.version))
                    if newer:
                        current = current.copy()
                        for domain_event in newer:
                            domain_event.mutate(current)
            except PersistenceError:
                raise
            except Exception as error:  # noqa: BLE001 - its stored events cannot be read back: say where
                raise locate(self, DIRECTORY_ID, error) from error
            self._listed = current
            return current

    def organisation(self, organisation_id: UUID) -> Organisation:
        return self._get(Organisation, organisation_id)

    def _member(self, organisation_id: UUID, role: Role) -> Organisation:
        organisation = self.organisation(organisation_id)
        if organisation.role is not role:
            raise ForbiddenError(
                f"only {role.with_article} may do this, and {organisation.name} is {organisation.role.with_article}"
            )
        return organisation

    def design(self, design_id: UUID) -> Design:
        return self._get(Design, design_id)

    def order(self, order_id: UUID) -> Order:
        return self._get(Order, order_id)

    def production_order(self, production_order_id: UUID) -> ProductionOrder:
        return self._get(ProductionOrder, production_order_id)

    def delivery(self, delivery_id: UUID) -> Delivery:
        return self._get(Delivery, delivery_id)

    def payouts(self, order: Order) -> list[Payout]:
        """The payouts owed so far for an order (derived ids, so no index is needed)."""
        found = []
        for line in order.lines:
            for role in (Role.DESIGNER, Role.WORKSHOP, Role.AREA_COMPANY):
                try:
                    found.append(self._get(Payout, payout_id(order.id, line.line_no, role)))
                except NotFoundError:
                    continue
        return found

    def delivery_for(self, order_id: UUID, line_no: int) -> Delivery:
        return self.delivery(delivery_id(order_id, line_no))
