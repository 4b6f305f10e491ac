"""Designs and the catalogue of published ones."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from vardekedja.api.deps import CallerDep, Cursor, DesignerDep, Limit, RuntimeDep, ViewsDep, recorded
from vardekedja.api.problems import ApiError
from vardekedja.api.resources import CatalogueItem, DesignOut, Page
from vardekedja.api.schemas import NO_NUL, DesignIn
from vardekedja.application import Recorded

router = APIRouter(tags=["designs"])


def _after_command(runtime: RuntimeDep, caller: DesignerDep, done: Recorded, response: Response) -> DesignOut:
    recorded(response, done.position)
    design = runtime.marketplace.design(done.id)
    return DesignOut.from_aggregate(design, runtime.settings.fee_rate, owner=True)


@router.post("/designs", status_code=status.HTTP_201_CREATED, response_model=DesignOut)
def draft_design(body: DesignIn, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Draft a new design: revision 1, visible only to its designer until published."""
    done = runtime.marketplace.draft_design(caller.organisation_id, body.specification())
    return _after_command(runtime, caller, done, response)


@router.put("/designs/{design_id}", response_model=DesignOut)
def revise_design(design_id: UUID, body: DesignIn, caller: DesignerDep, runtime: RuntimeDep,
                  response: Response) -> DesignOut:  # fmt: skip
    """Replace the draft specification; after a publish this opens the next revision."""
    done = runtime.marketplace.revise_design(caller.organisation_id, design_id, body.specification())
    return _after_command(runtime, caller, done, response)


@router.post("/designs/{design_id}/publish", response_model=DesignOut)
def publish_design(design_id: UUID, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Publish the draft revision; it is frozen from now on and can be ordered."""
    done = runtime.marketplace.publish_design(caller.organisation_id, design_id)
    return _after_command(runtime, caller, done, response)


@router.post("/designs/{design_id}/retire", response_model=DesignOut)
def retire_design(design_id: UUID, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Retire the design: it leaves the catalogue and can no longer be ordered."""
    done = runtime.marketplace.retire_design(caller.organisation_id, design_id)
    return _after_command(runtime, caller, done, response)


@router.get("/designs/{design_id}", response_model=DesignOut)
def get_design(design_id: UUID, caller: CallerDep, views: ViewsDep, runtime: RuntimeDep) -> DesignOut:
    """A design; one never published is shown only to its designer, with the open draft."""
    row = runtime.view("catalogue").design(views, design_id)
    owner = row is not None and row["designer_id"] == caller.organisation_id
    if row is None or (row["published_revision"] is None and not owner):
        raise ApiError(404, f"no design {design_id}")
    return DesignOut.from_row(row, runtime.settings.fee_rate, owner=owner)


Filter = Annotated[str | None, Query(max_length=100, pattern=NO_NUL)]


@router.get("/catalogue", response_model=Page[CatalogueItem])
def catalogue(
    caller: CallerDep, views: ViewsDep, runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="Words in title or description")] = None,
    category: Filter = None, material: Filter = None, capability: Filter = None,
    municipality: Annotated[str | None, Query(max_length=100, pattern=NO_NUL,
                                              description="Some workshop able to make it serves here")] = None,
    max_unit_price_ore: Annotated[int | None, Query(ge=0, le=10**12, description="Unit price with installation")] = None,
    limit: Limit = 20, cursor: Cursor = None,
) -> Page[CatalogueItem]:  # fmt: skip
    """Published designs, newest first, searched and filtered."""
    fee_rate = runtime.settings.fee_rate
    page = runtime.view("catalogue").search_published(
        views, fee_rate=fee_rate, q=q, category=category, material=material, capability=capability,
        municipality=municipality, max_unit_price_ore=max_unit_price_ore, limit=limit, cursor=cursor,
    )  # fmt: skip
    return Page(items=[CatalogueItem.from_row(row, fee_rate) for row in page.items], next_cursor=page.next_cursor)
