"""Read models: views rebuilt from the event store, one module per view.

``all_projections()`` gives one fresh instance of each; a suffix builds them
beside the live tables (for a blue/green rebuild).
"""

from __future__ import annotations

from vardekedja.projections.base import Projection
from vardekedja.projections.care import CareProjection
from vardekedja.projections.catalogue import CatalogueProjection
from vardekedja.projections.deliveries import DeliveriesProjection
from vardekedja.projections.impact import ImpactProjection
from vardekedja.projections.ledger import LedgerProjection
from vardekedja.projections.orders import OrdersProjection
from vardekedja.projections.organisations import OrganisationsProjection
from vardekedja.projections.payouts import PayoutsProjection
from vardekedja.projections.people import PeopleProjection
from vardekedja.projections.production import ProductionProjection
from vardekedja.projections.settlement import SettlementProjection

PROJECTIONS: dict[str, type[Projection]] = {
    projection.name: projection
    for projection in (
        OrganisationsProjection,
        CatalogueProjection,
        OrdersProjection,
        ProductionProjection,
        DeliveriesProjection,
        PayoutsProjection,
        CareProjection,
        PeopleProjection,
        ImpactProjection,
        SettlementProjection,
        LedgerProjection,
    )
}


def all_projections(suffix: str = "") -> list[Projection]:
    return [projection(suffix) for projection in PROJECTIONS.values()]


__all__ = ["PROJECTIONS", "Projection", "all_projections"]
