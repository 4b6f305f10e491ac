"""The operator's pages for an organisation's people and API keys, and for the projections."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.support import Cast
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime

LOOPBACK = "http://127.0.0.1"


@pytest.fixture
def browser(client: TestClient, runtime: Runtime, cast: Cast) -> Iterator[TestClient]:
    """The operator's browser (on a loopback address, so the one-time cookie comes back over plain HTTP)."""
    caught_up(runtime)
    sign_in(client, cast.operator)
    with TestClient(client.app, base_url=LOOPBACK) as browser:
        yield browser


def token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def shown_once(page: str) -> str | None:
    found = re.search(r'<input id="once" class="copy" readonly value="([^"]+)">', page)
    return found.group(1) if found else None


def test_the_operator_invites_a_person_who_joins_and_is_then_removed(browser: TestClient, runtime: Runtime,
                                                                    cast: Cast) -> None:  # fmt: skip
    here = f"/admin/organisations/{cast.buyer.id}"
    page = browser.get(here, params={"lang": "en"}).text
    assert "Nobody has been invited yet." in page
    invited = browser.post(f"{here}/people", data={"csrftoken": token(page), "name": "Anna Berg",
                                                   "email": "anna@example.se", "language": "en"},
                           follow_redirects=False)  # fmt: skip
    assert invited.status_code == 303 and invited.headers["location"] == here
    shown = browser.get(here)
    link = shown_once(shown.text)
    assert link is not None and link.startswith(f"{LOOPBACK}/invite/") and shown.headers["cache-control"] == "no-store"
    assert shown_once(browser.get(here).text) is None  # once only
    assert "Anna Berg" in shown.text and "invited" in shown.text

    anna = TestClient(browser.app, base_url=LOOPBACK)
    form = anna.get(link.removeprefix(LOOPBACK)).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    assert anna.post(link.removeprefix(LOOPBACK), data={"password": "kvarnstugan mot ängen 17", "csrf_token": csrf},
                     follow_redirects=False).status_code == 303  # fmt: skip
    assert anna.get("/v1/me").status_code == 200
    caught_up(runtime)  # Anna joined in her own browser: the operator's page shows it once the views have it
    page = browser.get(here).text
    assert re.search(r'status-active">active<', page)

    person = re.search(r'/people/([0-9a-f-]+)/remove', page).group(1)  # type: ignore[union-attr]
    removed = browser.post(f"{here}/people/{person}/remove", data={"csrftoken": token(page)}, follow_redirects=False)
    assert removed.status_code == 303
    assert anna.get("/v1/me").status_code == 401  # their session ended at once
    assert re.search(r'status-removed">removed<', browser.get(here).text)


def test_an_invite_that_breaks_a_rule_is_refused_beside_the_field_in_swedish(browser: TestClient, cast: Cast) -> None:
    here = f"/admin/organisations/{cast.buyer.id}"
    page = browser.get(here, params={"lang": "sv"}).text
    wrong = browser.post(f"{here}/people", data={"csrftoken": token(page), "name": "Anna", "email": "inte en adress",
                                                 "language": "sv"})  # fmt: skip
    assert wrong.status_code == 422 and 'id="email-error"' in wrong.text and 'value="inte en adress"' in wrong.text
    browser.post(f"{here}/people", data={"csrftoken": token(page), "name": "Anna", "email": "anna@example.se"})
    elsewhere = browser.post(f"/admin/organisations/{cast.other_buyer.id}/people",
                             data={"csrftoken": token(page), "name": "Anna", "email": "ANNA@example.se"})  # fmt: skip
    assert elsewhere.status_code == 409
    assert "e-postadressen tillhör en medlem i en annan organisation" in elsewhere.text


def test_the_operator_issues_an_api_key_shown_once_and_revokes_it(browser: TestClient, cast: Cast) -> None:
    here = f"/admin/organisations/{cast.workshop.id}"
    page = browser.get(here, params={"lang": "en"}).text
    issued = browser.post(f"{here}/api-keys", data={"csrftoken": token(page)}, follow_redirects=False)
    assert issued.status_code == 303 and issued.headers["location"] == here
    page = browser.get(here).text
    key = shown_once(page)
    assert key is not None and key.startswith("vk_")
    assert browser.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert key not in browser.get(here).text
    key_id = key.split("_")[1]
    revoked = browser.post(f"{here}/api-keys/{key_id}/revoke", data={"csrftoken": token(page)}, follow_redirects=False)
    assert revoked.status_code == 303
    assert browser.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "revoked" in browser.get(here).text


def test_forms_without_their_token_change_nothing(browser: TestClient, cast: Cast, runtime: Runtime) -> None:
    head = runtime.marketplace.position
    here = f"/admin/organisations/{cast.buyer.id}"
    browser.get(here)
    assert browser.post(f"{here}/api-keys", data={"csrftoken": "forged"}).status_code == 403
    assert browser.post(f"{here}/people", data={"name": "A", "email": "a@example.se"}).status_code == 403
    assert runtime.marketplace.position == head


def test_the_operator_sees_the_projections_and_rebuilds_one_after_confirming(browser: TestClient) -> None:
    page = browser.get("/admin/projections", params={"lang": "en"})
    assert page.status_code == 200 and "orders" in page.text and 'href="/admin/projections/orders/rebuild"' in page.text
    asked = browser.get("/admin/projections/orders/rebuild").text
    assert "Rebuild orders?" in asked and 'action="/admin/projections/orders/rebuild"' in asked
    done = browser.post("/admin/projections/orders/rebuild", data={"csrftoken": token(asked)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/projections?rebuilt=orders"
    assert "The view orders is rebuilt from the events." in browser.get(done.headers["location"]).text
    assert browser.get("/admin/projections/nothing/rebuild").status_code == 404


def test_only_the_operator_may(client: TestClient, cast: Cast, runtime: Runtime) -> None:
    caught_up(runtime)
    sign_in(client, cast.auditor)
    assert client.get(f"/admin/organisations/{cast.buyer.id}").status_code == 403
    assert client.get("/admin/projections").status_code == 403
