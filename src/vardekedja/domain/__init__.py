"""The value chain's aggregates and their events.

Pure: this package imports the standard library and ``eventsourcing.domain``
only, reads no clock or environment and does no I/O (a test checks).
"""

from vardekedja.domain.delivery import Delivery, DeliveryStatus
from vardekedja.domain.design import Design, DesignStatus, Specification
from vardekedja.domain.directory import Directory
from vardekedja.domain.order import DeliverySite, LineRequest, Order, OrderLine, OrderStatus
from vardekedja.domain.organisation import Organisation, Role
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import ProductionOrder, ProductionStatus

__all__ = [
    "Delivery",
    "DeliverySite",
    "DeliveryStatus",
    "Design",
    "DesignStatus",
    "Directory",
    "LineRequest",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Organisation",
    "Payout",
    "ProductionOrder",
    "ProductionStatus",
    "Role",
    "Specification",
]
