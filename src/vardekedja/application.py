"""The marketplace application service: every command of the value chain as a method.

Policies run in the same transaction as the command that triggers them. When
a payment is received the order and every production order it opens are saved
together; a completed production order is saved with the delivery it opens; a
delivery or installation is saved with the payouts it makes owed and the order
line it settles. One ``save()`` is one transaction on every event store we use,
so a policy's writes can be neither lost nor repeated, and no follower process
has to catch up before the chain is consistent. The price is contention on the
order stream when several of its lines move at once; a command that loses such
a race is rerun on fresh state (see ``_retrying``), and the domain's own rules
decide the rerun, so a workshop that lost the race to accept gets a conflict.

Commands can also run in rounds (``run_together``): one thread runs them one
after another, each seeing what the earlier ones changed, and commits all their
events in one transaction: one disk flush for the round instead of one per
command. See ``CommandWriter`` in commands.py for the thread that does so.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, ParamSpec, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from vardekedja.domain.delivery import Delivery, delivery_id
from vardekedja.domain.design import Design, Specification
from vardekedja.domain.directory import DIRECTORY_ID, Directory
from vardekedja.domain.errors import (
    ConcurrentUpdateError,
    DomainError,
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    RuleViolationError,
)
from vardekedja.domain.order import CURRENCY, DeliverySite, LineRequest, Order, OrderStatus
from vardekedja.domain.organisation import Organisation, Role
from vardekedja.domain.payment_notice import PaymentNotice, payment_notice_id
from vardekedja.domain.payout import Payout, payout_id, payout_on_installation, payouts_on_delivery
from vardekedja.domain.production import ProductionOrder, production_order_id

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)

RETRIES_ON_CONFLICT = 5
# A command run in a round learns its position only when the round commits (see ``run_together``).
PENDING_POSITION = -1
# Aggregates the round-running thread keeps between rounds (see ``Marketplace._kept``).
KEPT_AGGREGATES = 1_000
API_KEY_PREFIX = "vk"
MIN_SECRET_LENGTH = 32


class PaymentsUnavailableError(DomainError):
    """A refund is due but no payment provider is configured."""


@dataclass(frozen=True)
class PaymentIntent:
    """A payment provider's intent to collect one amount for one order."""

    id: str
    client_secret: str
    amount_ore: int
    currency: str
    status: str

    @property
    def usable(self) -> bool:
        """Can the buyer still pay with it (it has neither succeeded nor been cancelled)?"""
        return self.status in ("requires_payment_method", "requires_confirmation", "requires_action")


class PaymentGateway(Protocol):
    """What the application needs from a payment provider."""

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str) -> PaymentIntent:
        """Ask for a new payment of the amount, naming the order in its metadata."""

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        """The intent as the provider has it now; None if the provider does not know it."""

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        """Refund part or all of a payment; return the provider's refund id."""


@dataclass(frozen=True)
class Recorded:
    """What a command changed: the aggregate it is about and the global position of its last event."""

    id: UUID
    position: int


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


def _key_parts(api_key: str | None) -> tuple[str, str, str]:
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


@dataclass(frozen=True)
class Outcome:
    """How one command of a round ended: its value or its error, and its last event's position."""

    value: Any = None
    error: Exception | None = None
    position: int = 0

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class _Round:
    """Saves held back to be committed together, and the aggregates as the round has changed them."""

    processing: ProcessingEvent[UUID] = field(default_factory=ProcessingEvent)
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    loaded: set[UUID] = field(default_factory=set)


def _with_position(value: Any, position: int) -> Any:
    """A command's result with its pending position filled in, where it has one."""
    if hasattr(value, "__dataclass_fields__") and any(f.name == "position" for f in fields(value)):
        if value.position == PENDING_POSITION:
            return replace(value, position=position)
    return value


def _retrying(command: Callable[P, R]) -> Callable[P, R]:
    """Rerun a command that lost an optimistic-concurrency race, on fresh state.

    The rerun checks the rules again, so a command that no longer fits the
    state raises its domain error; one that keeps losing raises a conflict.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(RETRIES_ON_CONFLICT):
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                continue
        raise ConcurrentUpdateError("the resource changed while the command ran; try again")

    return wrapper


class Marketplace(Application[UUID]):
    """Commands of the whole chain; each returns what it recorded and where."""

    name = "Marketplace"
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        platform_fee_rate: Fraction = Fraction(10, 100),
        payments: PaymentGateway | None = None,
    ) -> None:
        super().__init__(env)
        self.platform_fee_rate = platform_fee_rate
        self.payments = payments
        self._listeners: list[Callable[[int], None]] = []
        self._local = threading.local()
        # The aggregates as the round-running thread last committed them, valid while
        # nobody else has written since (``_kept_head``); only that thread touches them.
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._kept_head: int | None = None

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after every save in this process (to wake a projector)."""
        self._listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        round_ = self._round
        if round_ is not None:
            # What ProcessingEvent.collect_events does for aggregates, without its checks against
            # runtime protocols (each such isinstance() walks the protocol's attributes).
            processing = round_.processing
            for obj in objs:
                if obj is None:
                    continue
                if not isinstance(obj, Aggregate):
                    raise TypeError(f"only aggregates are saved in a round, not {type(obj).__name__}")
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = round_.aggregates[obj.id] = obj
                round_.loaded.add(obj.id)
            processing.saved_kwargs.update(kwargs)
            return []
        recordings = super().save(*objs, **kwargs)
        if recordings:
            self._local.saved = recordings[-1].notification.id
            self._announce(recordings[-1].notification.id)
        return recordings

    def _announce(self, position: int) -> None:
        for listener in self._listeners:
            listener(position)

    # Rounds: many commands, one transaction.

    @property
    def _round(self) -> _Round | None:
        return getattr(self._local, "round", None)

    def run_alone(self, job: Callable[[], Any]) -> Outcome:
        """Run one command as usual (its own transactions); say where its last event landed."""
        self._local.saved = None
        try:
            value = job()
        except Exception as error:  # noqa: BLE001 - the caller gets the error through the outcome
            return Outcome(error=error)
        position = self._local.saved if self._local.saved is not None else self.position
        return Outcome(value=_with_position(value, position), position=position)

    def run_together(self, jobs: Sequence[Callable[[], Any]]) -> list[Outcome] | None:
        """Run commands one after another in this thread; commit all they record in one transaction.

        Each command sees what the earlier ones changed, as if each had been
        committed on its own. Returns one outcome per command run, in order;
        fewer than given when a command failed half-way (it changed an
        aggregate in memory and then raised), in which case the round stops
        there and the rest should run in another round. Returns None, having
        recorded nothing, when the transaction lost a race with another writer:
        run each command on its own then (``run_alone``), where conflicts are
        retried on fresh state.

        Only one thread may run rounds: the aggregates it keeps between rounds
        are its own, and are dropped whenever someone else has written.
        """
        head = self.position
        if head != self._kept_head:
            self._kept.clear()
        round_ = self._local.round = _Round()
        outcomes: list[tuple[Any, Exception | None, int]] = []
        try:
            for job in jobs:
                round_.loaded = set()
                try:
                    value, error = job(), None
                except Exception as raised:  # noqa: BLE001 - handed to the caller in the outcome
                    value, error = None, raised
                outcomes.append((value, error, len(round_.processing.events)))
                if self._drop_half_done(round_):
                    break
        except BaseException:  # not an Exception: what the round changed in memory is not to be trusted
            self._drop_kept()
            raise
        finally:
            self._local.round = None
        recordings = []
        if round_.processing.events:
            try:
                recordings = self._record(round_.processing)
            except IntegrityError:
                self._drop_kept()
                return None
            except Exception:
                self._drop_kept()
                raise
            self._notify(recordings)
        if recordings and recordings[0].notification.id == head + 1:
            self._kept_head = recordings[-1].notification.id
            self._keep(round_.aggregates)
        elif recordings:  # someone else's events came between: what we keep may be behind
            self._drop_kept()
        else:
            self._kept_head = head
            self._keep(round_.aggregates)
        if recordings:
            self._announce(recordings[-1].notification.id)
        results = []
        for value, error, events in outcomes:
            position = recordings[events - 1].notification.id if events else head
            if error is not None:
                results.append(Outcome(error=error, position=position))
            else:
                results.append(Outcome(value=_with_position(value, position), position=position))
        return results

    def _drop_half_done(self, round_: _Round) -> bool:
        """Forget aggregates the last command touched and left changed but unsaved; True if there were any.

        Their earlier changes in the round are still recorded (they were
        collected at save time); the next load reads them from the store.
        """
        dirty = [aggregate_id for aggregate_id in round_.loaded
                 if (aggregate := round_.aggregates.get(aggregate_id)) is not None and aggregate.pending_events]  # fmt: skip
        for aggregate_id in dirty:
            del round_.aggregates[aggregate_id]
            round_.processing.aggregates.pop(aggregate_id, None)
            self._kept.pop(aggregate_id, None)
        return bool(dirty)

    def _drop_kept(self) -> None:
        self._kept.clear()
        self._kept_head = None

    def _keep(self, aggregates: dict[UUID, Aggregate]) -> None:
        for aggregate_id, aggregate in aggregates.items():
            self._kept[aggregate_id] = aggregate
            self._kept.move_to_end(aggregate_id)
        while len(self._kept) > KEPT_AGGREGATES:
            self._kept.popitem(last=False)

    # Loading.

    def _load(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate: in a round, as the round has it (no copy, no query when kept); else from the store."""
        round_ = self._round
        if round_ is None:
            return self.repository.get(aggregate_id)
        round_.loaded.add(aggregate_id)
        aggregate = round_.aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self._kept.get(aggregate_id)
            if aggregate is None:
                aggregate = self.repository.get(aggregate_id)
            round_.aggregates[aggregate_id] = aggregate
        return aggregate

    def _get(self, kind: type[A], aggregate_id: UUID) -> A:
        try:
            aggregate = self._load(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {kind.__name__.lower()} {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"no {kind.__name__.lower()} {aggregate_id}")
        return aggregate

    def directory(self) -> Directory:
        try:
            return self._get(Directory, DIRECTORY_ID)
        except NotFoundError:
            return Directory()

    def organisation(self, organisation_id: UUID) -> Organisation:
        return self._get(Organisation, organisation_id)

    def _member(self, organisation_id: UUID, role: Role) -> Organisation:
        organisation = self.organisation(organisation_id)
        if organisation.role is not role:
            raise ForbiddenError(f"only a {role} may do this")
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

    def _commit(self, subject: UUID, *aggregates: Aggregate | None) -> Recorded:
        """Save the aggregates (none: nothing to record); say where the last event stands.

        With nothing recorded, the position is the head, which covers everything
        the command saw; in a round that is the round's own, filled in at commit.
        """
        if self._round is not None:
            self.save(*aggregates)
            return Recorded(subject, PENDING_POSITION)
        if not any(aggregate is not None for aggregate in aggregates):
            return Recorded(subject, self.position)
        recordings = self.save(*aggregates)
        return Recorded(subject, recordings[-1].notification.id if recordings else self.position)

    @property
    def position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # Organisations and API keys.

    @_retrying
    def register_organisation(
        self,
        *,
        name: str,
        role: Role | str,
        org_number: str,
        municipality: str,
        capabilities: Iterable[str] = (),
        service_area: Iterable[str] = (),
        api_key: str | None = None,
    ) -> IssuedKey:
        """Register an organisation and issue its first API key (or register the one given)."""
        organisation = Organisation.register(
            name=name,
            role=role,
            org_number=org_number,
            municipality=municipality,
            capabilities=list(capabilities),
            service_area=list(service_area),
        )
        directory = self.directory()
        directory.list(organisation)
        key_id, api_key, key_hash = _key_parts(api_key)
        organisation.issue_api_key(key_id, key_hash)
        recorded = self._commit(organisation.id, organisation, directory)
        return IssuedKey(organisation.id, key_id, api_key, recorded.position)

    @_retrying
    def issue_api_key(self, organisation_id: UUID, *, api_key: str | None = None) -> IssuedKey:
        """Issue a new key, or register a given well-formed one (the operator's from the environment)."""
        organisation = self.organisation(organisation_id)
        key_id, api_key, key_hash = _key_parts(api_key)
        organisation.issue_api_key(key_id, key_hash)
        recorded = self._commit(organisation.id, organisation)
        return IssuedKey(organisation.id, key_id, api_key, recorded.position)

    @_retrying
    def revoke_api_key(self, organisation_id: UUID, key_id: str) -> Recorded:
        organisation = self.organisation(organisation_id)
        organisation.revoke_api_key(key_id)
        return self._commit(organisation.id, organisation)

    def operators(self) -> list[UUID]:
        directory = self.directory()
        return [item.organisation_id for item in directory.listings.values() if item.role is Role.OPERATOR]

    def ensure_operator(self, *, name: str, org_number: str, municipality: str, api_key: str | None = None) -> IssuedKey | None:
        """Make sure an operator exists and can log in.

        With ``api_key`` (from the environment) the key is registered once and
        None is returned when it already was; without, a fresh key is issued.
        """
        operators = self.operators()
        if not operators:
            return self.register_organisation(
                name=name, role=Role.OPERATOR, org_number=org_number, municipality=municipality, api_key=api_key
            )
        operator = self.organisation(operators[0])
        if api_key is not None:
            parts = split_api_key(api_key)
            if parts is not None and parts[0] in operator.api_keys:
                return None
        return self.issue_api_key(operator.id, api_key=api_key)

    # Designs.

    @_retrying
    def draft_design(self, designer_id: UUID, specification: Specification) -> Recorded:
        self._member(designer_id, Role.DESIGNER)
        design = Design.draft(designer_id, specification)
        return self._commit(design.id, design)

    @_retrying
    def revise_design(self, designer_id: UUID, design_id: UUID, specification: Specification) -> Recorded:
        design = self.design(design_id)
        design.revise(designer_id, specification)
        return self._commit(design.id, design)

    @_retrying
    def publish_design(self, designer_id: UUID, design_id: UUID) -> Recorded:
        design = self.design(design_id)
        design.publish(designer_id)
        return self._commit(design.id, design)

    @_retrying
    def retire_design(self, designer_id: UUID, design_id: UUID) -> Recorded:
        design = self.design(design_id)
        design.retire(designer_id)
        return self._commit(design.id, design)

    # Orders and payment.

    @_retrying
    def place_order(
        self, buyer_id: UUID, delivery_site: DeliverySite, install: bool, lines: list[LineRequest]
    ) -> Recorded:
        self._member(buyer_id, Role.BUYER)
        designs: list[tuple[LineRequest, Design | None]] = []
        for request in lines:
            try:
                designs.append((request, self.design(request.design_id)))
            except NotFoundError:
                designs.append((request, None))
        order = Order.place(
            buyer_id=buyer_id,
            delivery_site=delivery_site,
            install=install,
            lines=designs,
            directory=self.directory(),
            platform_fee_rate=self.platform_fee_rate,
        )
        return self._commit(order.id, order)

    @_retrying
    def start_checkout(self, buyer_id: UUID, order_id: UUID, payment_intent_id: str) -> Recorded:
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        order.start_checkout(payment_intent_id)
        return self._commit(order.id, order)

    def record_payment(self, order_id: UUID, payment_intent_id: str, amount_ore: int, currency: str) -> Recorded:
        """A confirmed payment: mark the order paid and open one production order per line.

        A payment the order no longer wanted (it was cancelled meanwhile) is
        recorded and refunded at once where a payment provider is configured.
        """
        recorded = self._record_payment(order_id, payment_intent_id, amount_ore, currency)
        if self.payments is not None and self.order(order_id).refunds_due():
            recorded = self.refund_order(order_id)
        return recorded

    @_retrying
    def _record_payment(self, order_id: UUID, payment_intent_id: str, amount_ore: int, currency: str) -> Recorded:
        order = self.order(order_id)
        production_orders = self._production_orders_if_paid(order, payment_intent_id, amount_ore, currency)
        return self._commit(order.id, order, *production_orders)

    def checkout(self, buyer_id: UUID, order_id: UUID) -> tuple[Recorded, PaymentIntent]:
        """The payment intent the buyer pays the order with: the latest one while still usable, else a new one.

        A new intent's idempotency key names the order and the attempt, so a
        retried checkout after a crash asks the provider for the same intent.
        """
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        if order.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"an order that is {order.status} cannot be checked out")
        if self.payments is None:
            raise PaymentsUnavailableError("no payment provider is configured")
        if order.checkouts:
            latest = self.payments.payment_intent(order.checkouts[-1])
            if latest is not None and latest.usable and latest.amount_ore == order.total_ore and latest.currency == CURRENCY:
                return self._commit(order.id), latest
        intent = self.payments.create_payment_intent(
            order.id, order.total_ore, CURRENCY, f"checkout-{order.id}-{len(order.checkouts)}"
        )
        return self.start_checkout(buyer_id, order_id, intent.id), intent

    def record_payment_notice(
        self, *, provider_event_id: str, kind: str, payment_intent_id: str, order_id: UUID,
        amount_ore: int, currency: str, detail: str = "",
    ) -> Recorded | None:  # fmt: skip
        """Apply what the payment provider says happened, once per provider event.

        ``kind`` is "succeeded" or "failed". Returns None for a notice already
        recorded. A success that the order no longer wanted is refunded.
        """
        recorded = self._record_notice(provider_event_id, kind, payment_intent_id, order_id, amount_ore, currency, detail)
        # Also on a duplicate: Stripe redelivers a webhook that failed, and the refund may be what failed.
        if self.payments is not None and self.order(order_id).refunds_due():
            refunded = self.refund_order(order_id)
            if recorded is not None:
                recorded = refunded
        return recorded

    @_retrying
    def _record_notice(self, provider_event_id: str, kind: str, payment_intent_id: str, order_id: UUID,
                       amount_ore: int, currency: str, detail: str) -> Recorded | None:  # fmt: skip
        notice_id = payment_notice_id(provider_event_id)
        if notice_id in self.repository:
            return None
        notice = PaymentNotice(provider_event_id=provider_event_id, kind=kind, payment_intent_id=payment_intent_id,
                               order_id=order_id, amount_ore=amount_ore, currency=currency, detail=detail)  # fmt: skip
        order = self.order(order_id)
        if kind == "failed":
            order.record_payment_failure(payment_intent_id, detail or "payment failed")
            return self._commit(order.id, notice, order)
        if kind != "succeeded":
            raise ValueError(f"unknown payment notice {kind!r}")
        if payment_intent_id in order.payments:
            return self._commit(order.id, notice)  # the same payment told twice under two event ids
        return self._commit(order.id, notice, order, *self._production_orders_if_paid(order, payment_intent_id,
                                                                                         amount_ore, currency))  # fmt: skip

    def _production_orders_if_paid(self, order: Order, payment_intent_id: str, amount_ore: int,
                                   currency: str) -> list[ProductionOrder]:  # fmt: skip
        """Receive the payment; if it paid the order, open one production order per line."""
        if not order.receive_payment(payment_intent_id, amount_ore, currency):
            return []
        return [
            ProductionOrder(
                order_id=order.id,
                line_no=line.line_no,
                design_id=line.design_id,
                revision=line.revision,
                title=line.title,
                required_capabilities=list(line.required_capabilities),
                municipality=order.delivery_site.municipality,
                quantity=line.quantity,
                production_fee_ore=line.production_fee_ore,
            )
            for line in order.lines
        ]

    @_retrying
    def record_payment_failure(self, order_id: UUID, payment_intent_id: str, reason: str) -> Recorded:
        order = self.order(order_id)
        order.record_payment_failure(payment_intent_id, reason)
        return self._commit(order.id, order)

    def cancel_order(self, buyer_id: UUID, order_id: UUID, reason: str = "") -> Recorded:
        """Cancel before production starts; a paid order is then refunded in full.

        The cancellation is recorded before the refund is asked for, so a crash
        between the two leaves a cancelled order whose refund is still due, and
        ``refund_order`` finishes the job (the provider sees the same idempotency key).
        So does the buyer cancelling again: a cancelled order whose refund is still
        due (the provider was unreachable, say) has it asked for once more.
        """
        order = self.order(order_id)
        if order.status is OrderStatus.CANCELLED and order.refund_due_ore:
            order.check_buyer(buyer_id)
            return self.refund_order(order_id)
        recorded = self._cancel(buyer_id, order_id, reason)
        if self.order(order_id).refund_due_ore:
            recorded = self.refund_order(order_id)
        return recorded

    @_retrying
    def _cancel(self, buyer_id: UUID, order_id: UUID, reason: str) -> Recorded:
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        if order.status is OrderStatus.PAID and self.payments is None:
            raise PaymentsUnavailableError("the order is paid and no payment provider is configured")
        order.cancel(reason)
        production_orders = []
        if order.paid_payment_intent_id is not None:
            production_orders = [self.production_order(production_order_id(order.id, line.line_no)) for line in order.lines]
            for production in production_orders:
                production.cancel(f"order cancelled: {reason}" if reason else "order cancelled")
        return self._commit(order.id, order, *production_orders)

    @_retrying
    def refund_order(self, order_id: UUID) -> Recorded:
        """Give back every payment the order owes the buyer; a no-op when none is due.

        The idempotency key names the payment and how much of it was already
        refunded, so a retry after a crash asks the provider for the same refund.
        """
        order = self.order(order_id)
        due = order.refunds_due()
        if not due:
            return self._commit(order.id)  # nothing to record: the position covers what it saw
        if self.payments is None:
            raise PaymentsUnavailableError("a refund is due and no payment provider is configured")
        for payment_intent_id, amount in due:
            already = order.refunds.get(payment_intent_id, 0)
            refund_id = self.payments.refund(payment_intent_id, amount, f"refund-{order.id}-{payment_intent_id}-{already}")
            order.record_refund(refund_id, payment_intent_id, amount)
        return self._commit(order.id, order)

    # Production.

    @_retrying
    def accept_production(self, workshop_id: UUID, production_id: UUID) -> Recorded:
        production = self.production_order(production_id)
        production.accept(self.organisation(workshop_id))
        return self._commit(production.id, production)

    @_retrying
    def start_production(self, workshop_id: UUID, production_id: UUID) -> Recorded:
        """Start work; the first start puts the order in production and ends its right to cancel."""
        production = self.production_order(production_id)
        production.start(workshop_id)
        order = self.order(production.order_id)
        order.note_production_started()
        return self._commit(production.id, production, order)

    @_retrying
    def complete_production(self, workshop_id: UUID, production_id: UUID, hours_worked: float, notes: str) -> Recorded:
        """Complete the work and open its delivery in the same transaction."""
        production = self.production_order(production_id)
        production.complete(workshop_id, hours_worked, notes)
        order = self.order(production.order_id)
        delivery = Delivery(
            order_id=order.id,
            line_no=production.line_no,
            production_order_id=production.id,
            workshop_id=workshop_id,
            install=order.install,
            area_company_id=order.area_company_id,
        )
        return self._commit(production.id, production, delivery)

    @_retrying
    def release_production(self, workshop_id: UUID, production_id: UUID, reason: str) -> Recorded:
        production = self.production_order(production_id)
        production.release(workshop_id, reason)
        return self._commit(production.id, production)

    # Delivery and installation.

    def _delivery_command(self, delivery_id_: UUID, command: Callable[[Delivery], Any]) -> Recorded:
        delivery = self.delivery(delivery_id_)
        command(delivery)
        return self._commit(delivery.id, delivery)

    @_retrying
    def schedule_delivery(self, workshop_id: UUID, delivery_id_: UUID, earliest: datetime, latest: datetime) -> Recorded:
        return self._delivery_command(delivery_id_, lambda d: d.schedule(workshop_id, earliest, latest))

    @_retrying
    def dispatch_delivery(self, workshop_id: UUID, delivery_id_: UUID) -> Recorded:
        return self._delivery_command(delivery_id_, lambda d: d.dispatch(workshop_id))

    @_retrying
    def fail_delivery(self, workshop_id: UUID, delivery_id_: UUID, reason: str) -> Recorded:
        return self._delivery_command(delivery_id_, lambda d: d.fail(workshop_id, reason))

    @_retrying
    def deliver(self, workshop_id: UUID, delivery_id_: UUID, received_by: str) -> Recorded:
        """Delivered: the designer and workshop are owed, and the order line is settled."""
        delivery = self.delivery(delivery_id_)
        delivery.deliver(workshop_id, received_by)
        order = self.order(delivery.order_id)
        order.note_line_delivered(delivery.line_no)
        payouts = payouts_on_delivery(order, delivery.line_no, delivery.workshop_id)
        return self._commit(delivery.id, delivery, order, *payouts)

    @_retrying
    def install(self, area_company_id: UUID, delivery_id_: UUID) -> Recorded:
        """Installed: the area company is owed its fee, and the order may be fulfilled."""
        delivery = self.delivery(delivery_id_)
        delivery.install_piece(area_company_id)
        order = self.order(delivery.order_id)
        order.note_line_installed(delivery.line_no)
        payout = payout_on_installation(order, delivery.line_no)
        return self._commit(delivery.id, delivery, order, payout)

    def delivery_for(self, order_id: UUID, line_no: int) -> Delivery:
        return self.delivery(delivery_id(order_id, line_no))
