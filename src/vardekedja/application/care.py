"""Förvaltning: delivered pieces become assets; fault reports and due inspections become maintenance orders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.asset import Asset
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.errors import NotFoundError, RuleViolationError
from vardekedja.domain.maintenance import MaintenanceOrder, ServiceCode
from vardekedja.domain.order import Order
from vardekedja.personal_data import sealed_subject

# How long a maintenance order is expected to take, by service code (hours); others take the default.
EXPECTED_HOURS: Mapping[str, int] = {ServiceCode.SAFETY.value: 24}
DEFAULT_EXPECTED_HOURS = 14 * 24


def assets_on_delivery(app: MarketplaceBase, order: Order, delivery: Delivery) -> list[Asset]:
    """One asset per delivered piece, looked after by the area company installing it or serving the site."""
    line = order.line(delivery.line_no)
    spec = app.design(line.design_id).revisions[line.revision]
    caretaker = order.area_company_id
    if caretaker is None:
        serving = app.listed().area_companies_serving(order.delivery_site.municipality)
        caretaker = serving[0] if serving else None
    return [
        Asset.register(
            order_id=order.id, line_no=line.line_no, piece=piece, delivery_id=delivery.id,
            design_id=line.design_id, revision=line.revision, title=line.title, buyer_id=order.buyer_id,
            site=order.delivery_site.to_dict(), caretaker_id=caretaker,
            inspection_interval_months=spec.inspection_interval_months,
        )  # fmt: skip
        for piece in range(1, line.quantity + 1)
    ]


class CareCommands(MarketplaceBase):
    expected_hours: Mapping[str, int] = EXPECTED_HOURS
    default_expected_hours: int = DEFAULT_EXPECTED_HOURS

    def asset(self, asset_id: UUID) -> Asset:
        return self._get(Asset, asset_id)

    def maintenance_order(self, maintenance_order_id: UUID) -> MaintenanceOrder:
        return self._get(MaintenanceOrder, maintenance_order_id)

    def expected_hours_for(self, service_code: ServiceCode) -> int:
        return int(self.expected_hours.get(service_code.value, self.default_expected_hours))

    def _caretaker(self, asset: Asset) -> UUID:
        """Who looks after the piece: the one named at delivery, else whoever serves its municipality now."""
        if asset.caretaker_id is not None:
            return asset.caretaker_id
        serving = self.listed().area_companies_serving(asset.municipality)
        if not serving:
            raise RuleViolationError(f"no area company looks after pieces in {asset.municipality} yet",
                                     field="attribute[asset]")  # fmt: skip
        return serving[0]

    @retrying
    def report_fault(
        self, asset_id: UUID, service_code: ServiceCode, description: str, *,
        lat: float | None = None, long: float | None = None, media_url: str | None = None,
        contact: Mapping[str, str] | None = None,
    ) -> Recorded:  # fmt: skip
        """Open a maintenance order for the area company looking after the piece.

        The report's free text and the reporter's contact details are personal data: they are sealed
        under a data subject of the reporter's own, so that erasing it leaves nothing of them readable.
        """
        asset = self.asset(asset_id)
        if not description.strip():
            raise RuleViolationError("say what is wrong", field="description")
        area_company_id = self._caretaker(asset)
        reporter = self.personal_data.new_subject()
        seal = self.personal_data.seal
        given = {name: value.strip() for name, value in (contact or {}).items() if value.strip()}
        order = MaintenanceOrder.report(
            asset_id=asset.id, area_company_id=area_company_id, service_code=service_code,
            description=seal(reporter, description.strip()), expected_hours=self.expected_hours_for(service_code),
            lat=lat, long=long, media_url=media_url,
            contact={name: seal(reporter, value) for name, value in given.items()} or None,
        )  # fmt: skip
        return self._commit(order.id, order)

    @retrying
    def erase_reporter(self, maintenance_order_id: UUID) -> Recorded:
        """Erase the reporter's personal data: delete their key, then record that they were erased.

        The key goes first, as for a person: should recording fail, the report and contact details are
        unreadable already and erasing again finishes the job.
        """
        order = self.maintenance_order(maintenance_order_id)
        sealed = [order.description, *(order.contact or {}).values()]
        subject = next((found for found in map(sealed_subject, sealed) if found is not None), None)
        if order.reporter_erased and subject is not None:
            self.personal_data.erase(subject)
        order.erase_reporter(subject)  # refuses an inspection, a report with nothing sealed, a second erasure
        assert subject is not None
        self.personal_data.erase(subject)
        return self._commit(order.id, order)

    @retrying
    def acknowledge_maintenance(self, area_company_id: UUID, maintenance_order_id: UUID) -> Recorded:
        order = self.maintenance_order(maintenance_order_id)
        order.acknowledge(area_company_id)
        return self._commit(order.id, order)

    @retrying
    def start_maintenance(self, area_company_id: UUID, maintenance_order_id: UUID) -> Recorded:
        order = self.maintenance_order(maintenance_order_id)
        order.start(area_company_id)
        return self._commit(order.id, order)

    @retrying
    def resolve_maintenance(self, area_company_id: UUID, maintenance_order_id: UUID, hours_worked: float,
                            materials_ore: int, notes: str) -> Recorded:  # fmt: skip
        order = self.maintenance_order(maintenance_order_id)
        order.resolve(area_company_id, hours_worked, materials_ore, self.seal_text("notes", order.id, notes))
        return self._commit(order.id, order)

    @retrying
    def reject_maintenance(self, area_company_id: UUID, maintenance_order_id: UUID, reason: str) -> Recorded:
        order = self.maintenance_order(maintenance_order_id)
        order.reject(area_company_id, reason)
        return self._commit(order.id, order)

    def open_inspections(self, due: Iterable[tuple[UUID, int]]) -> int:
        """Open the n-th inspection of each asset named; return how many this call opened.

        Inspection ids are derived from the asset and the number, so one that
        another process (or an earlier run) opened already is a conflict on
        save, and is skipped: each due inspection opens exactly once.
        """
        opened = 0
        for asset_id, number in due:
            try:
                asset = self.asset(asset_id)
                area_company_id = self._caretaker(asset)
            except (NotFoundError, RuleViolationError):
                continue  # nobody to inspect it yet; it is due again on the next run
            order = MaintenanceOrder.inspection(
                asset_id=asset.id, area_company_id=area_company_id, number=number,
                expected_hours=self.expected_hours_for(ServiceCode.INSPECTION),
            )  # fmt: skip
            try:
                self.save(order)
            except IntegrityError:
                continue
            opened += 1
        return opened
