"""Organisations: one role each, a valid organisation number, and API keys that can be revoked."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.chain import BENCH, register_cast
from tests.unit.builders import directory_of, organisation
from vardekedja.application import Marketplace, hash_api_key, split_api_key
from vardekedja.domain.errors import (
    DuplicateOrganisationError,
    ForbiddenError,
    InvalidOrgNumberError,
    InvalidTransitionError,
    NotFoundError,
    RuleViolationError,
    UnknownApiKeyError,
)
from vardekedja.domain.organisation import Organisation, Role, normalise_org_number

# Real, Luhn-valid Swedish organisation numbers.
VALID = ["556016-0680", "556036-0793", "556000-0753", "556012-5790", "556056-6258", "212000-0142"]


def register(**changes: object) -> Organisation:
    values: dict[str, object] = dict(
        name=" Fittja Snickeri ",
        role="workshop",
        org_number="5560160680",
        municipality="Botkyrka",
        capabilities=["Carpentry", " welding ", "carpentry"],
        service_area=["Botkyrka", "HUDDINGE"],
    )
    values.update(changes)
    return Organisation.register(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", VALID)
def test_a_valid_org_number_is_accepted_with_or_without_hyphen(number: str) -> None:
    assert normalise_org_number(number) == number
    assert normalise_org_number(number.replace("-", "")) == number
    assert normalise_org_number(f"16{number}") == number


@pytest.mark.parametrize("number", VALID)
def test_an_org_number_with_a_wrong_check_digit_is_refused(number: str) -> None:
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(InvalidOrgNumberError, match="check digit") as refused:
        normalise_org_number(wrong)
    assert refused.value.field == "org_number"


@pytest.mark.parametrize(
    "garbage",
    [
        "", "abc", "556016-068", "556016-06800", "55601-60680", "556016 0680", "556016–0680", "12556016-0680",
        "５５６０１６-０６８０",  # full-width digits pass the check digit but are not the ASCII number
        "٥٥٦٠١٦-٠٦٨٠",  # Arabic-Indic digits, likewise
    ],
)
def test_an_org_number_that_is_not_ten_digits_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidOrgNumberError) as refused:
        normalise_org_number(garbage)
    assert refused.value.field == "org_number"


def test_registering_records_one_event_with_normalised_names() -> None:
    member = register()

    [registered] = member.collect_events()
    assert isinstance(registered, Organisation.Registered)
    assert registered.name == "Fittja Snickeri"
    assert registered.role == "workshop"
    assert registered.org_number == "556016-0680"
    assert registered.capabilities == ["carpentry", "welding"]
    assert registered.service_area == ["botkyrka", "huddinge"]
    assert member.role is Role.WORKSHOP and member.api_keys == {}


def test_an_invalid_org_number_refuses_the_registration() -> None:
    with pytest.raises(InvalidOrgNumberError):
        register(org_number="556016-0681")


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(RuleViolationError, match="unknown role") as refused:
        register(role="janitor")
    assert refused.value.field == "role"


@pytest.mark.parametrize("field", ["name", "municipality"])
def test_a_blank_name_or_municipality_is_refused(field: str) -> None:
    with pytest.raises(RuleViolationError) as refused:
        register(**{field: "   "})
    assert refused.value.field == field


@pytest.mark.parametrize("capabilities", [[], ["  "]])
def test_a_workshop_needs_capabilities(capabilities: list[str]) -> None:
    with pytest.raises(RuleViolationError) as refused:
        register(capabilities=capabilities)
    assert refused.value.field == "capabilities"


@pytest.mark.parametrize("role", ["workshop", "area_company"])
def test_a_workshop_or_area_company_needs_a_service_area(role: str) -> None:
    with pytest.raises(RuleViolationError) as refused:
        register(role=role, service_area=[])
    assert refused.value.field == "service_area"


@pytest.mark.parametrize("role", ["operator", "designer", "buyer", "auditor"])
def test_other_roles_need_neither_capabilities_nor_service_area(role: str) -> None:
    member = register(role=role, capabilities=[], service_area=[])
    assert member.role is Role(role)


def test_issuing_an_api_key_records_only_its_hash() -> None:
    member = organisation("buyer")

    member.issue_api_key("k1", "hash-1")

    [issued] = member.collect_events()
    assert isinstance(issued, Organisation.ApiKeyIssued)
    assert (issued.key_id, issued.key_hash) == ("k1", "hash-1")
    assert member.api_keys == {"k1": "hash-1"}


def test_an_api_key_id_cannot_be_issued_twice() -> None:
    member = organisation("buyer")
    member.issue_api_key("k1", "hash-1")
    member.collect_events()

    with pytest.raises(InvalidTransitionError):
        member.issue_api_key("k1", "hash-2")
    assert member.collect_events() == []
    assert member.api_keys == {"k1": "hash-1"}


def test_revoking_an_api_key_removes_it() -> None:
    member = organisation("buyer")
    member.issue_api_key("k1", "hash-1")
    member.issue_api_key("k2", "hash-2")
    member.collect_events()

    member.revoke_api_key("k1")

    [revoked] = member.collect_events()
    assert isinstance(revoked, Organisation.ApiKeyRevoked) and revoked.key_id == "k1"
    assert member.api_keys == {"k2": "hash-2"}


@pytest.mark.parametrize("issued", [[], ["k1"]])
def test_revoking_an_unknown_or_already_revoked_key_is_refused(issued: list[str]) -> None:
    member = organisation("buyer")
    for key_id in issued:
        member.issue_api_key(key_id, "hash")
        member.revoke_api_key(key_id)
    member.collect_events()

    with pytest.raises(UnknownApiKeyError):
        member.revoke_api_key("k1")
    assert member.collect_events() == []


def test_the_directory_refuses_a_second_organisation_with_the_same_number() -> None:
    first = register(role="buyer")
    directory = directory_of(first)

    with pytest.raises(DuplicateOrganisationError):
        directory.list(register(role="designer", org_number="556016-0680"))
    assert directory.collect_events() == []
    assert list(directory.listings) == [first.id]


def test_registering_through_the_application_shows_the_key_once_and_stores_its_hash(memory_marketplace) -> None:
    issued = memory_marketplace.register_organisation(
        name="Botkyrkabyggen", role="buyer", org_number="556016-0680", municipality="Botkyrka"
    )

    key_id, secret = split_api_key(issued.api_key)  # type: ignore[misc]
    member = memory_marketplace.organisation(issued.organisation_id)
    assert key_id == issued.key_id
    assert member.api_keys == {key_id: hash_api_key(secret)}
    stored = memory_marketplace.recorder.select_notifications(start=1, limit=100)
    assert stored and not any(secret.encode() in notification.state for notification in stored)


def test_a_duplicate_org_number_is_refused_and_nothing_is_written(memory_marketplace) -> None:
    memory_marketplace.register_organisation(
        name="Botkyrkabyggen", role="buyer", org_number="556016-0680", municipality="Botkyrka"
    )
    before = memory_marketplace.recorder.max_notification_id()

    with pytest.raises(DuplicateOrganisationError):
        memory_marketplace.register_organisation(
            name="Someone Else", role="designer", org_number="5560160680", municipality="Huddinge"
        )
    assert memory_marketplace.recorder.max_notification_id() == before


def test_revoking_an_unknown_key_through_the_application_writes_nothing(memory_marketplace) -> None:
    issued = memory_marketplace.register_organisation(
        name="Botkyrkabyggen", role="buyer", org_number="556016-0680", municipality="Botkyrka"
    )
    before = memory_marketplace.recorder.max_notification_id()

    with pytest.raises(UnknownApiKeyError):
        memory_marketplace.revoke_api_key(issued.organisation_id, "no-such-key")
    assert memory_marketplace.recorder.max_notification_id() == before

    memory_marketplace.revoke_api_key(issued.organisation_id, issued.key_id)
    assert memory_marketplace.organisation(issued.organisation_id).api_keys == {}


def test_an_unknown_resource_is_named_as_a_person_names_it() -> None:
    app = Marketplace()
    missing = uuid4()
    with pytest.raises(NotFoundError, match=f"^no production order {missing}$"):
        app.production_order(missing)


def test_a_command_for_another_role_names_both_roles_in_words() -> None:
    app = Marketplace()
    cast = register_cast(app)

    with pytest.raises(ForbiddenError) as refused:
        app.draft_design(cast.area_company, BENCH)

    assert str(refused.value) == "only a designer may do this, and Botkyrka Områdesföretag is an area company"
