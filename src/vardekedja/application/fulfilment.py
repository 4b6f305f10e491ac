"""Fulfilment: production, delivery and installation, and the payouts they make owed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.care import assets_on_delivery
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.payout import payout_on_installation, payouts_on_delivery
from vardekedja.domain.transport import FACTORS_VERSION


class FulfilmentCommands(MarketplaceBase):

    @retrying
    def accept_production(self, workshop_id: UUID, production_id: UUID) -> Recorded:
        production = self.production_order(production_id)
        production.accept(self.organisation(workshop_id))
        return self._commit(production.id, production)

    @retrying
    def start_production(self, workshop_id: UUID, production_id: UUID) -> Recorded:
        """Start work; the first start puts the order in production and ends its right to cancel."""
        production = self.production_order(production_id)
        production.start(workshop_id)
        order = self.order(production.order_id)
        order.note_production_started()
        return self._commit(production.id, production, order)

    @retrying
    def complete_production(self, workshop_id: UUID, production_id: UUID, hours_worked: float, notes: str) -> Recorded:
        """Complete the work and open its delivery in the same transaction."""
        production = self.production_order(production_id)
        production.complete(workshop_id, hours_worked, self.seal_text("notes", production.id, notes))
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

    @retrying
    def release_production(self, workshop_id: UUID, production_id: UUID, reason: str) -> Recorded:
        production = self.production_order(production_id)
        production.release(workshop_id, reason)
        return self._commit(production.id, production)

    # Delivery and installation.

    def _delivery_command(self, delivery_id_: UUID, command: Callable[[Delivery], Any]) -> Recorded:
        delivery = self.delivery(delivery_id_)
        command(delivery)
        return self._commit(delivery.id, delivery)

    @retrying
    def schedule_delivery(self, workshop_id: UUID, delivery_id_: UUID, earliest: datetime, latest: datetime) -> Recorded:
        now = datetime.now(timezone.utc)
        return self._delivery_command(delivery_id_, lambda d: d.schedule(workshop_id, earliest, latest, now=now))

    @retrying
    def dispatch_delivery(self, workshop_id: UUID, delivery_id_: UUID, distance_km: float | None = None,
                          vehicle: str | None = None) -> Recorded:  # fmt: skip
        """On its way; a vehicle's CO₂e is figured by the transport factors in force now (their version is recorded)."""
        return self._delivery_command(delivery_id_, lambda d: d.dispatch(workshop_id, distance_km, vehicle,
                                                                           FACTORS_VERSION))  # fmt: skip

    @retrying
    def fail_delivery(self, workshop_id: UUID, delivery_id_: UUID, reason: str) -> Recorded:
        return self._delivery_command(delivery_id_, lambda d: d.fail(workshop_id, reason))

    @retrying
    def deliver(self, workshop_id: UUID, delivery_id_: UUID, received_by: str) -> Recorded:
        """Delivered: the designer and workshop are owed, the order line is settled, each piece becomes an asset."""
        delivery = self.delivery(delivery_id_)
        delivery.deliver(workshop_id, self.seal_text("received_by", delivery.id, received_by))
        order = self.order(delivery.order_id)
        order.note_line_delivered(delivery.line_no)
        payouts = payouts_on_delivery(order, delivery.line_no, delivery.workshop_id)
        assets = assets_on_delivery(self, order, delivery)
        return self._commit(delivery.id, delivery, order, *payouts, *assets)

    @retrying
    def install(self, area_company_id: UUID, delivery_id_: UUID, hours_worked: float | None = None) -> Recorded:
        """Installed: the area company is owed its fee, and the order may be fulfilled."""
        delivery = self.delivery(delivery_id_)
        delivery.install_piece(area_company_id, hours_worked)
        order = self.order(delivery.order_id)
        order.note_line_installed(delivery.line_no)
        payout = payout_on_installation(order, delivery.line_no)
        return self._commit(delivery.id, delivery, order, payout)
