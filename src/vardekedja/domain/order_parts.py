"""What an order is made of: where it goes, what is asked for, and its lines as frozen at placement."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from uuid import UUID

from vardekedja.domain.errors import InvalidOrderError
from vardekedja.domain.money import LinePrice


@dataclass(frozen=True)
class DeliverySite:
    name: str
    street: str
    postal_code: str
    municipality: str

    def check(self) -> None:
        """Refuse a site today's rules do not allow (placing an order calls this; replaying does not)."""
        for name in ("name", "street", "postal_code", "municipality"):
            if not getattr(self, name).strip():
                raise InvalidOrderError(f"the delivery site needs a {name}", field=f"delivery_site.{name}")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "street": self.street, "postal_code": self.postal_code,
                "municipality": self.municipality}  # fmt: skip


@dataclass(frozen=True)
class LineRequest:
    design_id: UUID
    quantity: int
    revision: int | None = None


@dataclass(frozen=True, kw_only=True)
class OrderLine(LinePrice):
    """A line as frozen at placement: what was ordered, from whom, at which price."""

    line_no: int
    design_id: UUID
    revision: int
    designer_id: UUID
    title: str
    required_capabilities: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderLine:
        values = dict(data)
        values["required_capabilities"] = tuple(values["required_capabilities"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        # Every field is immutable, so a shallow copy will do (``asdict`` copies deeply, and slowly).
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data["required_capabilities"] = list(self.required_capabilities)
        return data
