"""People through the ASGI app: invited, joined, signed in, acting, removed and refused; and the security of it.

The client talks to http://127.0.0.1 (a loopback address, so the session
cookie is not Secure and the test client sends it back over plain HTTP).
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import org_number
from vardekedja.api.sessions import COOKIE, SessionStore
from vardekedja.api.sign_in import SignInThrottle
from vardekedja.application import passwords
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime
from vardekedja.web import create_web_app

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
PASSWORD = "kvarnstugan mot ängen 17"
LOOPBACK = "http://127.0.0.1"
ENGLISH = {"Accept-Language": "en"}  # the pages' messages read below are the English ones


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_web_app(runtime=runtime), base_url=LOOPBACK, headers=ENGLISH) as client:
        yield client


def new_browser(browser: TestClient) -> TestClient:
    """Another browser on the same app (its own cookies), reading English."""
    return TestClient(browser.app, base_url=LOOPBACK, headers=ENGLISH)


def organisation(client: TestClient, role: str = "buyer", name: str = "Botkyrkabyggen") -> UUID:
    response = client.post("/v1/organisations", headers=OPERATOR, json={
        "name": name, "role": role, "org_number": org_number(), "municipality": "Botkyrka"})  # fmt: skip
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def invite(client: TestClient, organisation_id: UUID, email: str = "anna.berg@example.se",
           headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    response = client.post(f"/v1/organisations/{organisation_id}/people", headers=headers or OPERATOR,
                           json={"name": "Anna Berg", "email": email, "language": "sv"})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def alert(page: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', page)
    return found.group(1) if found else ""


def path_of(url: str) -> str:
    assert url.startswith(LOOPBACK + "/invite/"), url
    return url.removeprefix(LOOPBACK)


def join(client: TestClient, invite_url: str, password: str = PASSWORD) -> Any:
    path = path_of(invite_url)
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"password": password, "csrf_token": form_token(page.text)}, follow_redirects=False)


def sign_in(client: TestClient, email: str = "anna.berg@example.se", password: str = PASSWORD) -> Any:
    page = client.get("/login").text
    token = form_token(page[page.index('action="/login"'):])
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip


def session_token(client: TestClient) -> str:
    """The session's CSRF token, as the signed-in page hands it to its forms (the sign-out form)."""
    page = client.get("/login").text
    return form_token(page[page.index('action="/logout"'):])


def csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": session_token(client)}


def test_a_person_invited_joins_signs_in_acts_and_once_removed_is_refused(browser: TestClient) -> None:
    buyer = organisation(browser)
    invited = invite(browser, buyer)
    anna = new_browser(browser)

    joined = join(anna, invited["invite_url"])
    assert joined.status_code == 303
    me = anna.get("/v1/me")
    assert me.status_code == 200 and me.json()["id"] == str(buyer)
    colleague = anna.post(f"/v1/organisations/{buyer}/people", headers=csrf(anna),
                          json={"name": "Bo Ek", "email": "bo.ek@example.se"})  # fmt: skip
    assert colleague.status_code == 201, colleague.text

    anna.post("/logout", data={"csrf_token": session_token(anna)})
    assert anna.get("/v1/me").status_code == 401
    assert sign_in(anna).status_code == 303
    assert anna.get("/v1/me").status_code == 200

    removed = browser.delete(f"/v1/organisations/{buyer}/people/{invited['id']}", headers=OPERATOR)
    assert removed.status_code == 204
    assert anna.get("/v1/me").status_code == 401  # at once
    assert sign_in(anna).status_code == 401
    people = browser.get(f"/v1/organisations/{buyer}/people", headers={
        **OPERATOR, "Vardekedja-Min-Position": removed.headers["Vardekedja-Position"]}).json()["items"]  # fmt: skip
    assert {p["email"]: p["status"] for p in people} == {"anna.berg@example.se": "removed", "bo.ek@example.se": "invited"}


def test_signing_in_hands_out_a_new_session_id_and_ends_the_one_presented(browser: TestClient) -> None:
    invited = invite(browser, organisation(browser))
    anna = new_browser(browser)
    join(anna, invited["invite_url"])
    first = anna.cookies[COOKIE]

    planted = new_browser(browser)
    planted.cookies.set(COOKIE, first)  # someone who learnt the id before sign-in
    assert planted.get("/v1/me").status_code == 200
    assert sign_in(anna).status_code == 303

    assert anna.cookies[COOKIE] != first
    assert anna.get("/v1/me").status_code == 200
    assert planted.get("/v1/me").status_code == 401


def test_the_session_cookie_is_http_only_same_site_lax_and_secure_except_on_loopback(browser: TestClient) -> None:
    invited = invite(browser, organisation(browser))
    on_loopback = join(new_browser(browser), invited["invite_url"]).headers["set-cookie"].lower()
    assert "httponly" in on_loopback and "samesite=lax" in on_loopback and "secure" not in on_loopback

    again = invite(browser, browser.get("/v1/me", headers=OPERATOR).json()["id"], email="bo.ek@example.se")
    remote = TestClient(browser.app, base_url="https://marknad.example.se")
    path = path_of(again["invite_url"])
    page = remote.get(path)
    answer = remote.post(path, data={"password": PASSWORD, "csrf_token": form_token(page.text)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    session_cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE in v).lower()
    assert "secure" in session_cookie and "httponly" in session_cookie and "samesite=lax" in session_cookie


def test_a_write_with_a_session_needs_its_csrf_token(browser: TestClient, runtime: Runtime) -> None:
    buyer = organisation(browser)
    anna = new_browser(browser)
    join(anna, invite(browser, buyer)["invite_url"])
    head = runtime.marketplace.position
    body = {"name": "Bo Ek", "email": "bo.ek@example.se"}

    missing = anna.post(f"/v1/organisations/{buyer}/people", json=body)
    wrong = anna.post(f"/v1/organisations/{buyer}/people", json=body, headers={"X-CSRF-Token": "x" * 43})
    logout_without = anna.post("/logout", data={"csrf_token": "forged"})

    assert (missing.status_code, wrong.status_code, logout_without.status_code) == (403, 403, 403)
    assert missing.headers["content-type"] == "application/problem+json"
    assert runtime.marketplace.position == head
    assert anna.get("/v1/me").status_code == 200  # still signed in
    assert anna.post(f"/v1/organisations/{buyer}/people", json=body, headers=csrf(anna)).status_code == 201


def test_sign_in_and_invite_forms_need_the_token_they_were_served_with(browser: TestClient) -> None:
    invited = invite(browser, organisation(browser))
    anna = new_browser(browser)
    path = path_of(invited["invite_url"])
    anna.get(path)
    assert anna.post(path, data={"password": PASSWORD, "csrf_token": "forged"}).status_code == 403
    assert join(anna, invited["invite_url"]).status_code == 303
    stranger = new_browser(browser)  # a form posted from another site: no form cookie
    answer = stranger.post("/login", data={"email": "anna.berg@example.se", "password": PASSWORD, "csrf_token": "x"})
    assert answer.status_code == 403 and COOKIE not in stranger.cookies


def test_an_invite_works_once_and_not_after_it_expires(browser: TestClient, runtime: Runtime) -> None:
    buyer = organisation(browser)
    invited = invite(browser, buyer)
    assert join(new_browser(browser), invited["invite_url"]).status_code == 303
    again = new_browser(browser)
    assert again.get(path_of(invited["invite_url"])).status_code == 404

    old = runtime.marketplace.invite_person(buyer, name="Bo Ek", email="bo.ek@example.se", language="sv",
                                            now=datetime.now(timezone.utc) - timedelta(days=7, seconds=1))  # fmt: skip
    runtime.wait_for(old.position)
    expired = new_browser(browser)
    page = expired.get(f"/invite/{old.token}")
    assert page.status_code == 404 and "expired" in alert(page.text)
    served = new_browser(browser)
    served.get(path_of(invite(browser, buyer, email="cia@example.se")["invite_url"]))
    forged = served.post(f"/invite/{old.token}", data={"password": PASSWORD, "csrf_token": served.cookies["vardekedja_form"]})
    assert forged.status_code == 404 and COOKIE not in served.cookies


def test_an_invite_opens_when_the_views_reach_it_between_the_first_look_and_the_check_of_their_position(
        browser: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    buyer = organisation(browser)
    invited = invite(browser, buyer)
    runtime.wait_for(runtime.marketplace.position)
    looks = []
    found = PeopleView.by_invite

    def first_look_before_the_batch_commits(view: PeopleView, connection: Any, invite_hash: str) -> Any:
        looks.append(invite_hash)
        return None if len(looks) == 1 else found(view, connection, invite_hash)

    monkeypatch.setattr(PeopleView, "by_invite", first_look_before_the_batch_commits)
    page = new_browser(browser).get(path_of(invited["invite_url"]))
    assert page.status_code == 200, page.text
    assert len(looks) == 2


def test_short_and_common_passwords_are_refused(browser: TestClient) -> None:
    invited = invite(browser, organisation(browser))
    anna = new_browser(browser)
    for password in ("kort lösen", "password1234", "qwertyuiopasdf"):
        answer = join(anna, invited["invite_url"], password)
        assert answer.status_code == 422, password
        assert "password" in alert(answer.text).lower()
    assert join(anna, invited["invite_url"]).status_code == 303


def test_a_new_invite_for_a_member_resets_the_password_and_ends_their_sessions(browser: TestClient) -> None:
    buyer = organisation(browser)
    anna = new_browser(browser)
    join(anna, invite(browser, buyer)["invite_url"])
    again = invite(browser, buyer)
    assert anna.get("/v1/me").status_code == 401
    assert sign_in(new_browser(browser)).status_code == 401
    assert join(new_browser(browser), again["invite_url"], "ett helt nytt lösenord för bänkar").status_code == 303
    assert sign_in(new_browser(browser), password="ett helt nytt lösenord för bänkar").status_code == 303


def test_an_email_belongs_to_one_organisation(browser: TestClient) -> None:
    invite(browser, organisation(browser))
    other = organisation(browser, name="Huddinge Bostäder")
    response = browser.post(f"/v1/organisations/{other}/people", headers=OPERATOR,
                            json={"name": "Anna", "email": "ANNA.BERG@Example.SE"})  # fmt: skip
    assert response.status_code == 409
    assert response.json()["detail"] == "this email belongs to a member of another organisation"


class RecordingThrottle(SignInThrottle):
    """The throttle as served, noting how long it held each attempt (wall times also count Argon2 under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[float] = []

    def delay(self, email: str, client: str) -> float:
        self.held.append(super().delay(email, client))
        return self.held[-1]


def test_failed_sign_ins_for_an_email_slow_down_and_then_answer_429(browser: TestClient) -> None:
    join(new_browser(browser), invite(browser, organisation(browser))["invite_url"])
    gate = browser.app.state.sign_in_throttle = RecordingThrottle()  # type: ignore[attr-defined]
    guesser = new_browser(browser)
    took = []
    for _ in range(5):
        started = time.monotonic()
        assert sign_in(guesser, password="not the password at all").status_code == 401
        took.append(time.monotonic() - started)
    assert gate.held == [0.0, 0.0, 0.25, 0.5, 1.0]  # free twice, then doubling
    assert took[-1] >= 1.0  # and the fifth answer really waited
    refused = sign_in(guesser)  # the right password, too late
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert COOKIE not in guesser.cookies


def test_failed_sign_ins_from_one_client_answer_429_whatever_the_email(browser: TestClient) -> None:
    browser.app.state.sign_in_throttle = SignInThrottle(per_client=3)  # type: ignore[attr-defined]
    guesser = new_browser(browser)
    answers = [sign_in(guesser, email=f"nobody{n}@example.se").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]


def test_secrets_are_compared_in_constant_time_and_unknown_emails_cost_a_hash(
        browser: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    compared: list[int] = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    buyer = organisation(browser)
    anna = new_browser(browser)
    join(anna, invite(browser, buyer)["invite_url"])  # the form token and the invite's hash
    assert len(compared) >= 2
    compared.clear()
    anna.post(f"/v1/organisations/{buyer}/people", headers={"X-CSRF-Token": "wrong"}, json={})
    assert compared  # the CSRF token

    verified: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    assert sign_in(new_browser(browser), email="nobody@example.se").status_code == 401
    assert len(verified) == 1  # a dummy hash, so an unknown email takes as long as a wrong password


def test_the_person_and_the_operator_read_what_is_held_about_them(browser: TestClient) -> None:
    buyer = organisation(browser)
    invited = invite(browser, buyer)
    anna = new_browser(browser)
    join(anna, invited["invite_url"])
    colleague = invite(browser, buyer, email="bo.ek@example.se")

    own = anna.get(f"/v1/people/{invited['id']}/data")
    assert own.status_code == 200
    held = own.json()
    assert (held["name"], held["email"], held["organisation_name"]) == ("Anna Berg", "anna.berg@example.se",
                                                                        "Botkyrkabyggen")  # fmt: skip
    assert [e["type"] for e in held["events"]] == ["Invited", "Joined"] and len(held["sessions"]) == 1
    assert held["password_set"] is True and "password_hash" not in held
    assert anna.get(f"/v1/people/{colleague['id']}/data").status_code == 404
    assert browser.get(f"/v1/people/{colleague['id']}/data", headers=OPERATOR).json()["email"] == "bo.ek@example.se"


def test_sessions_end_after_idle_time_and_after_their_absolute_lifetime(tmp_path: Any) -> None:
    from vardekedja.domain.organisation import Role
    from vardekedja.storage.engines import sqlite_engine

    engine = sqlite_engine(str(tmp_path / "sessions.sqlite3"), begin="BEGIN IMMEDIATE")
    ids = dict(person_id=UUID(int=1), organisation_id=UUID(int=2), role=Role.BUYER, organisation_name="B")
    idle = SessionStore(engine, idle=0.2, absolute=60)
    token, _ = idle.start(**ids)  # type: ignore[arg-type]
    assert idle.find(token)[0] is not None
    time.sleep(0.3)
    assert idle.find(token)[0] is None

    absolute = SessionStore(engine, idle=60, absolute=0.3)
    token, session = absolute.start(**ids)  # type: ignore[arg-type]
    for _ in range(4):
        time.sleep(0.1)
        absolute.touch(session)
    assert absolute.find(token)[0] is None
    engine.dispose()


def test_two_people_using_the_same_idempotency_key_get_their_own_answers(browser: TestClient) -> None:
    buyer = organisation(browser)
    anna, bo = new_browser(browser), new_browser(browser)
    join(anna, invite(browser, buyer)["invite_url"])
    join(bo, invite(browser, buyer, email="bo.ek@example.se")["invite_url"])
    key = {"Idempotency-Key": "invite-1"}

    first = anna.post(f"/v1/organisations/{buyer}/people", json={"name": "Cia", "email": "cia@example.se"},
                      headers={**csrf(anna), **key})  # fmt: skip
    second = bo.post(f"/v1/organisations/{buyer}/people", json={"name": "Cia", "email": "cia@example.se"},
                     headers={**csrf(bo), **key})  # fmt: skip

    assert first.status_code == second.status_code == 201
    assert "idempotent-replayed" not in second.headers  # not Anna's answer (with her invite link) handed to Bo
    assert first.json()["invite_url"] != second.json()["invite_url"]


def test_no_personal_data_reaches_the_logs(browser: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    buyer = organisation(browser)
    invited = invite(browser, buyer)
    anna = new_browser(browser)
    join(anna, invited["invite_url"], "kort")  # refused, with a message
    join(anna, invited["invite_url"])
    sign_in(new_browser(browser), password="not the password at all")
    browser.get(f"/v1/people/{invited['id']}/data", headers=OPERATOR)
    browser.post(f"/v1/people/{invited['id']}/erase", headers=OPERATOR)

    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert caplog.records  # the flow did log (requests, the projector), just nothing personal
    for personal in ("Anna Berg", "anna.berg@example.se", PASSWORD):
        assert personal not in logged
