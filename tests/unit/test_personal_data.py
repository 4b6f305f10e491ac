"""Personal data sealed per subject: opened with its key, unreadable once the subject is erased."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from vardekedja.personal_data import FRESH_KEYS, ErasedSubjectError, PersonalData, is_sealed, sealed_subject
from vardekedja.storage.engines import sqlite_engine


@pytest.fixture(params=["memory", "sqlite"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> PersonalData:
    if request.param == "memory":
        return PersonalData.in_memory()
    return PersonalData(sqlite_engine(str(tmp_path / "keys.sqlite3"), begin="BEGIN IMMEDIATE"))


def test_a_sealed_value_names_its_subject_and_opens_to_the_text(vault: PersonalData) -> None:
    subject = uuid4()
    sealed = vault.seal(subject, "Anna Berg")
    assert is_sealed(sealed) and "Anna" not in sealed and sealed_subject(sealed) == subject
    assert vault.open(sealed) == "Anna Berg"
    assert vault.seal(subject, "Anna Berg") != sealed  # a fresh nonce each time


def test_erasing_a_subject_makes_its_values_unreadable_and_leaves_others_alone(vault: PersonalData) -> None:
    anna, bo = uuid4(), uuid4()
    sealed_anna, sealed_bo = vault.seal(anna, "Anna"), vault.seal(bo, "Bo")
    vault.erase(anna)
    assert vault.open(sealed_anna) is None and vault.erased(anna)
    assert vault.open(sealed_bo) == "Bo"
    with pytest.raises(ErasedSubjectError):
        vault.seal(anna, "Anna again")


def test_a_value_moved_to_another_subject_does_not_open(vault: PersonalData) -> None:
    anna, bo = uuid4(), uuid4()
    sealed = vault.seal(anna, "Anna")
    vault.seal(bo, "Bo")
    forged = sealed.replace(str(anna), str(bo))
    assert vault.open(forged) is None


def test_plain_values_from_older_stores_pass_through(vault: PersonalData) -> None:
    assert vault.open("Vaktmästaren") == "Vaktmästaren" and vault.open(None) is None


def test_the_lookup_digest_is_keyed_and_stable(tmp_path: Path) -> None:
    engine = sqlite_engine(str(tmp_path / "keys.sqlite3"), begin="BEGIN IMMEDIATE")
    first, again = PersonalData(engine), PersonalData(engine)
    assert first.digest("anna@example.se") == again.digest("anna@example.se") != first.digest("bo@example.se")
    assert first.digest("anna@example.se") != PersonalData.in_memory().digest("anna@example.se")


def test_another_process_sees_an_erasure(tmp_path: Path) -> None:
    engine = sqlite_engine(str(tmp_path / "keys.sqlite3"), begin="BEGIN IMMEDIATE")
    here, there = PersonalData(engine), PersonalData(engine)
    subject = uuid4()
    sealed = here.seal(subject, "Anna")
    assert there.open(sealed) == "Anna"
    here.erase(subject)
    there.forget(subject)  # what a process does when it learns of the erasure
    assert there.open(sealed) is None


def test_who_received_a_delivery_and_production_notes_reach_the_events_only_sealed() -> None:
    from tests.chain import BENCH, register_cast
    from tests.chain import published_design as publish
    from tests.unit.flow import deliver_line, place_and_pay
    from vardekedja.application import Marketplace
    from vardekedja.domain.order import LineRequest

    app = Marketplace({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish(app, cast, BENCH), 1)])
    delivery_id = deliver_line(app, cast.workshop, order_id, 1)

    stored = b"".join(n.state for n in app.recorder.select_notifications(1, 1000))
    assert b"Anna Svensson" not in stored and b'"done"' not in stored
    delivery = app.delivery(delivery_id)
    assert is_sealed(delivery.received_by) and app.personal_data.open(delivery.received_by) == "Anna Svensson"
    app.personal_data.erase(sealed_subject(delivery.received_by))  # type: ignore[arg-type]
    assert app.personal_data.open(delivery.received_by) is None
    app.close()


def test_new_subjects_each_have_a_key_of_their_own_stored_before_use(tmp_path: Path) -> None:
    engine = sqlite_engine(str(tmp_path / "keys.sqlite3"), begin="BEGIN IMMEDIATE")
    vault = PersonalData(engine)
    subjects = [vault.new_subject() for _ in range(FRESH_KEYS + 3)]  # past one batch of keys made ahead
    assert len(set(subjects)) == len(subjects)
    sealed = {subject: vault.seal(subject, f"reporter {n}") for n, subject in enumerate(subjects)}
    elsewhere = PersonalData(engine)  # another process: it finds every key in the store, none in its memory
    assert [elsewhere.open(value) for value in sealed.values()] == [f"reporter {n}" for n in range(len(subjects))]
    vault.erase(subjects[0])
    elsewhere.forget(subjects[0])
    assert elsewhere.open(sealed[subjects[0]]) is None and elsewhere.open(sealed[subjects[1]]) == "reporter 1"
