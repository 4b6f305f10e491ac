"""Designs: drafted, revised and published by their designer; a published revision is frozen."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.chain import BENCH, spec
from vardekedja.domain.design import MAX_ORE, Design, DesignStatus, Specification
from vardekedja.domain.errors import (
    DesignRetiredError,
    InvalidSpecificationError,
    InvalidTransitionError,
    NotOwnerError,
    NotPublishableError,
    NotPublishedError,
)

DESIGNER = uuid4()


def drafted(specification: Specification = BENCH) -> Design:
    design = Design.draft(DESIGNER, specification)
    design.collect_events()
    return design


def published() -> Design:
    design = drafted()
    design.publish(DESIGNER)
    design.collect_events()
    return design


def test_drafting_records_revision_one_as_a_draft() -> None:
    design = Design.draft(DESIGNER, spec(required_capabilities=("Welding", "carpentry ")))

    [event] = design.collect_events()
    assert isinstance(event, Design.Drafted)
    assert event.designer_id == DESIGNER and event.specification["title"] == BENCH.title
    assert design.status is DesignStatus.DRAFT and design.draft_revision == 1
    assert design.revisions[1].required_capabilities == ("carpentry", "welding")


def test_revising_a_draft_replaces_it_in_place() -> None:
    design = drafted()

    design.revise(DESIGNER, spec(title="Parkbänk Alby"))

    [event] = design.collect_events()
    assert isinstance(event, Design.Revised) and event.revision == 1
    assert design.revisions[1].title == "Parkbänk Alby" and list(design.revisions) == [1]


def test_publishing_freezes_the_draft_revision() -> None:
    design = drafted()

    assert design.publish(DESIGNER) == 1

    [event] = design.collect_events()
    assert isinstance(event, Design.Published) and event.revision == 1
    assert design.status is DesignStatus.PUBLISHED and design.draft_revision is None


def test_revising_after_a_publish_opens_the_next_revision_while_the_first_stays_published() -> None:
    design = published()

    design.revise(DESIGNER, spec(royalty_ore=200_00))
    design.revise(DESIGNER, spec(royalty_ore=250_00))

    events = design.collect_events()
    assert [(type(e), e.revision) for e in events] == [(Design.Revised, 2), (Design.Revised, 2)]
    assert design.status is DesignStatus.PUBLISHED
    assert design.published_revisions == [1] and design.draft_revision == 2
    assert design.orderable_revision(None) == (1, BENCH)
    assert design.revisions[1] == BENCH


def test_publishing_the_second_revision_makes_it_the_one_ordered_by_default() -> None:
    design = published()
    design.revise(DESIGNER, spec(royalty_ore=200_00))
    design.collect_events()

    assert design.publish(DESIGNER) == 2

    [event] = design.collect_events()
    assert isinstance(event, Design.Published) and event.revision == 2
    assert design.orderable_revision(None)[0] == 2
    assert design.orderable_revision(1) == (1, BENCH)


def test_there_is_nothing_to_publish_without_a_draft() -> None:
    design = published()

    with pytest.raises(InvalidTransitionError):
        design.publish(DESIGNER)
    assert design.collect_events() == []


@pytest.mark.parametrize(
    "command",
    [
        lambda design, who: design.revise(who, spec(title="Not mine")),
        lambda design, who: design.publish(who),
        lambda design, who: design.retire(who),
    ],
    ids=["revise", "publish", "retire"],
)
def test_only_the_owning_designer_may_change_a_design(command) -> None:
    design = drafted()

    with pytest.raises(NotOwnerError):
        command(design, uuid4())
    assert design.collect_events() == []
    assert design.status is DesignStatus.DRAFT and design.revisions[1] == BENCH


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"materials": ()}, "materials"),
        ({"materials": ("  ",)}, "materials"),
        ({"required_capabilities": ()}, "required_capabilities"),
        ({"royalty_ore": -1}, "royalty_ore"),
        ({"production_fee_ore": -1}, "production_fee_ore"),
        ({"installation_fee_ore": -1}, "installation_fee_ore"),
        ({"royalty_ore": 0, "production_fee_ore": 0}, "royalty_ore"),
    ],
)
def test_an_incomplete_revision_cannot_be_published(changes: dict, field: str) -> None:
    design = drafted(spec(**changes))

    with pytest.raises(NotPublishableError) as refused:
        design.publish(DESIGNER)
    assert refused.value.field == field
    assert design.collect_events() == []
    assert design.status is DesignStatus.DRAFT


@pytest.mark.parametrize(
    "changes",
    [{"royalty_ore": 0}, {"production_fee_ore": 0}, {"installation_fee_ore": 0}],
)
def test_a_revision_with_one_zero_price_can_still_be_published(changes: dict) -> None:
    design = drafted(spec(**changes))

    design.publish(DESIGNER)

    assert [type(e) for e in design.collect_events()] == [Design.Published]


def test_an_unpublishable_second_revision_leaves_the_first_published() -> None:
    design = published()
    design.revise(DESIGNER, spec(materials=()))
    design.collect_events()

    with pytest.raises(NotPublishableError):
        design.publish(DESIGNER)
    assert design.collect_events() == []
    assert design.published_revisions == [1]


def test_retiring_records_the_design_as_retired() -> None:
    design = published()

    design.retire(DESIGNER)

    assert [type(e) for e in design.collect_events()] == [Design.Retired]
    assert design.status is DesignStatus.RETIRED


@pytest.mark.parametrize(
    "command",
    [
        lambda design: design.revise(DESIGNER, spec(title="Again")),
        lambda design: design.publish(DESIGNER),
        lambda design: design.retire(DESIGNER),
        lambda design: design.orderable_revision(None),
        lambda design: design.orderable_revision(1),
    ],
    ids=["revise", "publish", "retire", "order-latest", "order-revision-1"],
)
def test_a_retired_design_cannot_be_revised_published_or_ordered(command) -> None:
    design = published()
    design.revise(DESIGNER, spec(title="Draft two"))
    design.retire(DESIGNER)
    design.collect_events()

    with pytest.raises(DesignRetiredError):
        command(design)
    assert design.collect_events() == []


def test_a_draft_revision_is_not_orderable() -> None:
    design = published()
    design.revise(DESIGNER, spec(title="Draft two"))

    with pytest.raises(NotPublishedError):
        design.orderable_revision(2)
    with pytest.raises(NotPublishedError):
        drafted().orderable_revision(None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"category": " "}, "category"),
        ({"width_mm": 0}, "width_mm"),
        ({"depth_mm": 100_001}, "depth_mm"),
        ({"height_mm": -5}, "height_mm"),
        ({"weight_kg": -0.1}, "weight_kg"),
        ({"weight_kg": float("nan")}, "weight_kg"),
        ({"co2e_kg": 1_000_001}, "co2e_kg"),
        ({"lead_time_days": -1}, "lead_time_days"),
        ({"lead_time_days": 3651}, "lead_time_days"),
        ({"royalty_ore": MAX_ORE + 1}, "royalty_ore"),
        ({"installation_fee_ore": MAX_ORE + 1}, "installation_fee_ore"),
    ],
)
def test_a_specification_out_of_range_is_refused(changes: dict, field: str) -> None:
    with pytest.raises(InvalidSpecificationError) as refused:
        drafted(spec(**changes))
    assert refused.value.field == field
    with pytest.raises(InvalidSpecificationError) as refused:
        drafted().revise(DESIGNER, spec(**changes))
    assert refused.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"width_mm": 1, "depth_mm": 100_000},
        {"weight_kg": 0, "co2e_kg": 1_000_000},
        {"lead_time_days": 0},
        {"lead_time_days": 3650},
        {"royalty_ore": MAX_ORE},
    ],
)
def test_a_specification_at_the_edges_of_its_ranges_is_accepted(changes: dict) -> None:
    design = drafted(spec(**changes))
    assert design.revisions[1] == spec(**changes)


def test_replaying_a_designs_events_rebuilds_the_same_design() -> None:
    design = Design.draft(DESIGNER, BENCH)
    design.publish(DESIGNER)
    design.revise(DESIGNER, spec(royalty_ore=1_00))
    events = design.collect_events()

    replayed = None
    for event in events:
        replayed = event.mutate(replayed)

    assert replayed == design
