"""Designs and the catalogue of published ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.engine import Connection

from vardekedja.api.deps import (
    SHUTTING_DOWN,
    CallerDep,
    Cursor,
    DesignerDep,
    Limit,
    RuntimeDep,
    ViewsDep,
    command_answered,
)
from vardekedja.api.problems import ApiError
from vardekedja.api.resources import CatalogueItem, DesignOut, Page
from vardekedja.api.schemas import NO_NUL, DesignIn
from vardekedja.application import Marketplace, Recorded
from vardekedja.domain.errors import RuleViolationError
from vardekedja.domain.organisation import Role
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.runtime import Runtime

router = APIRouter(tags=["designs"])


def _design(app: Marketplace, design_id: UUID) -> DesignOut:
    return DesignOut.from_aggregate(app.design(design_id), app.platform_fee_rate, owner=True)


async def _design_command(runtime: Runtime, response: Response, run: Callable[[Marketplace], Recorded]) -> DesignOut:
    return await command_answered(runtime, response, run, _design)


@router.post("/designs", status_code=status.HTTP_201_CREATED, response_model=DesignOut, responses=SHUTTING_DOWN)
async def draft_design(body: DesignIn, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Draft a new design: revision 1, visible only to its designer until published."""
    specification = body.specification()
    return await _design_command(runtime, response, lambda app: app.draft_design(caller.organisation_id, specification))


@router.put("/designs/{design_id}", response_model=DesignOut, responses=SHUTTING_DOWN)
async def revise_design(design_id: UUID, body: DesignIn, caller: DesignerDep, runtime: RuntimeDep,
                        response: Response) -> DesignOut:  # fmt: skip
    """Replace the draft specification; after a publish this opens the next revision."""
    specification = body.specification()
    return await _design_command(
        runtime, response, lambda app: app.revise_design(caller.organisation_id, design_id, specification)
    )


@router.post("/designs/{design_id}/publish", response_model=DesignOut, responses=SHUTTING_DOWN)
async def publish_design(design_id: UUID, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Publish the draft revision; it is frozen from now on and can be ordered."""
    return await _design_command(runtime, response, lambda app: app.publish_design(caller.organisation_id, design_id))


@router.post("/designs/{design_id}/retire", response_model=DesignOut, responses=SHUTTING_DOWN)
async def retire_design(design_id: UUID, caller: DesignerDep, runtime: RuntimeDep, response: Response) -> DesignOut:
    """Retire the design: it leaves the catalogue and can no longer be ordered."""
    return await _design_command(runtime, response, lambda app: app.retire_design(caller.organisation_id, design_id))


@router.get("/designs/{design_id}", response_model=DesignOut)
async def get_design(design_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> DesignOut:
    """A design; one never published is shown only to its designer, with the open draft."""

    def read(views: Connection) -> DesignOut:
        row = runtime.view(CatalogueView).design(views, design_id)
        owner = row is not None and row["designer_id"] == caller.organisation_id
        if row is None or (row["published_revision"] is None and not owner):
            raise ApiError(404, f"no design {design_id}")
        return DesignOut.from_row(row, runtime.settings.fee_rate, owner=owner)

    return await reads.read(read)


@router.get("/designs", response_model=Page[DesignOut])
async def list_own_designs(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep,
                           status: Annotated[Literal["draft", "published", "retired"] | None, Query()] = None,
                           limit: Limit = 20, cursor: Cursor = None) -> Page[DesignOut]:  # fmt: skip
    """The caller's own designs, drafts and retired ones included, the most recently drafted first."""
    if not caller.is_(Role.DESIGNER):
        raise ApiError(403, f"designs are listed by the designer who drafted them, and {caller.name} is "
                            f"{caller.role.with_article}; published designs are in GET /v1/catalogue")  # fmt: skip
    fee_rate = runtime.settings.fee_rate

    def read(views: Connection) -> Page[DesignOut]:
        page = runtime.view(CatalogueView).designers_own(views, caller.organisation_id, status=status, limit=limit,
                                                       cursor=cursor)  # fmt: skip
        return Page(items=[DesignOut.from_row(row, fee_rate, owner=True) for row in page.items],
                    next_cursor=page.next_cursor)  # fmt: skip

    return await reads.read(read)


Filter = Annotated[str | None, Query(max_length=100, pattern=NO_NUL)]


@router.get("/catalogue", response_model=Page[CatalogueItem])
async def catalogue(
    caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                   description="Words in title, description, category or materials, "
                                               "in any word form the database knows")] = None,
    category: Filter = None, material: Filter = None, capability: Filter = None,
    municipality: Annotated[str | None, Query(max_length=100, pattern=NO_NUL,
                                              description="Some workshop able to make it serves here; each item "
                                                          "says whether installation is available here")] = None,
    install: Annotated[bool | None, Query(description="With a municipality: true lists only what can be installed "
                                                      "there, false prices without installation")] = None,
    max_unit_price_ore: Annotated[int | None, Query(ge=0, le=10**12,
                                                    description="Unit price with installation where it is "
                                                                "available and not declined, else without")] = None,
    limit: Limit = 20, cursor: Cursor = None,
) -> Page[CatalogueItem]:  # fmt: skip
    """Published designs, newest first, searched and filtered."""
    fee_rate = runtime.settings.fee_rate
    if install is not None and not municipality:
        raise RuleViolationError("install filters by a municipality: give municipality too", field="install")

    def read(connection: Connection) -> Page[CatalogueItem]:
        view = runtime.view(CatalogueView)
        available = view.installs_in(connection, municipality) if municipality else None
        if install and not available:
            return Page(items=[], next_cursor=None)
        page = view.search_published(
            connection, fee_rate=fee_rate, q=q, category=category, material=material, capability=capability,
            municipality=municipality, max_unit_price_ore=max_unit_price_ore,
            with_installation=install is not False and available is not False, limit=limit, cursor=cursor,
        )  # fmt: skip
        return Page(items=[CatalogueItem.from_row(row, fee_rate, installation_available=available)
                           for row in page.items], next_cursor=page.next_cursor)  # fmt: skip

    return await reads.read(read)
