"""Signing in through the web UI's pages: the forms, the header, where a person lands, and in which language.

A browser here talks to http://127.0.0.1 (a loopback address), so the session
cookie is not Secure and comes back over plain HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.support import Cast
from tests.web.conftest import caught_up
from vardekedja.runtime import Runtime

LOOPBACK = "http://127.0.0.1"
PASSWORD = "kvarnstugan mot ängen 17"


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    with TestClient(client.app, base_url=LOOPBACK) as browser:
        yield browser


def member(runtime: Runtime, organisation_id: UUID, email: str, *, language: str = "sv",
           name: str = "Anna Berg") -> str:  # fmt: skip
    """Invite a person; the invite's path."""
    invited = runtime.marketplace.invite_person(organisation_id, name=name, email=email, language=language)
    caught_up(runtime)
    return f"/invite/{invited.token}"


def token(page: str, action: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page[page.index(f'action="{action}"'):])
    assert found is not None, page
    return found.group(1)


def join(browser: TestClient, path: str, password: str = PASSWORD) -> object:
    page = browser.get(path).text
    return browser.post(path, data={"password": password, "csrf_token": token(page, path)}, follow_redirects=False)


def sign_in(browser: TestClient, email: str, password: str = PASSWORD, next_path: str | None = None,
            lang: str = "en") -> object:  # fmt: skip
    page = browser.get("/login", params={"lang": lang, **({"next": next_path} if next_path else {})}).text
    data = {"email": email, "password": password, "csrf_token": token(page, "/login")}
    if next_path is not None:
        data["next"] = next_path
    return browser.post("/login", data=data, follow_redirects=False)


def test_the_sign_in_page_is_a_page_of_the_web_ui_in_either_language(browser: TestClient) -> None:
    english = browser.get("/login", params={"lang": "en"})
    swedish = browser.get("/login", params={"lang": "sv"})
    assert english.status_code == swedish.status_code == 200
    for name in ("Email", "Password"):
        assert re.search(rf'<label for="f-\w+">{name}</label>', english.text)
    assert '<button type="submit">Sign in</button>' in english.text
    assert 'class="site"' in english.text and "<footer" in english.text and 'lang="en"' in english.text
    assert "E-post" in swedish.text and "Lösenord" in swedish.text and '<html lang="sv">' in swedish.text
    assert english.headers["cache-control"] == "no-store" and "vardekedja_form=" in english.headers["set-cookie"]


def test_a_wrong_password_is_said_beside_the_field_in_the_pages_language(browser: TestClient, cast: Cast,
                                                                        runtime: Runtime) -> None:  # fmt: skip
    join(browser, member(runtime, cast.buyer.id, "anna@example.se"))
    browser.cookies.clear()
    wrong = sign_in(browser, "anna@example.se", "inte alls lösenordet", lang="sv")
    assert wrong.status_code == 401  # type: ignore[attr-defined]
    assert re.search(r'aria-invalid="true"[^>]*>\s*<span class="error" id="password-error" role="alert">'
                     r"E-postadressen eller lösenordet är fel\.</span>", wrong.text)  # type: ignore[attr-defined]
    assert 'value="anna@example.se"' in wrong.text  # type: ignore[attr-defined]


def test_a_common_password_is_refused_beside_the_field_in_swedish(browser: TestClient, cast: Cast,
                                                                 runtime: Runtime) -> None:  # fmt: skip
    path = member(runtime, cast.buyer.id, "anna@example.se")
    refused = join(browser, path, "password1234")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'id="password-error" role="alert">Välj ett annat lösenord' in refused.text  # type: ignore[attr-defined]
    short = join(browser, path, "kort")
    assert "Ett lösenord har minst 12 tecken." in short.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(("role", "home"), [
    ("buyer", "/orders"), ("designer", "/studio"), ("workshop", "/workshop"), ("area_company", "/area"),
    ("operator", "/admin"), ("auditor", "/audit"),
])  # fmt: skip
def test_joining_and_signing_in_land_on_the_roles_main_page(browser: TestClient, cast: Cast, runtime: Runtime,
                                                           role: str, home: str) -> None:  # fmt: skip
    party = getattr(cast, role)
    joined = join(browser, member(runtime, party.id, f"{role}@example.se"))
    assert joined.status_code == 303 and joined.headers["location"] == home  # type: ignore[attr-defined]
    landed = browser.get(home)
    assert landed.status_code == 200, landed.text
    browser.cookies.clear()
    signed_in = sign_in(browser, f"{role}@example.se")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == home  # type: ignore[attr-defined]


def test_the_header_offers_to_sign_in_and_once_signed_in_names_the_person_and_signs_out(
        browser: TestClient, cast: Cast, runtime: Runtime) -> None:  # fmt: skip
    anonymous = browser.get("/catalogue", params={"lang": "en", "q": "bänk"}).text
    assert 'href="/login?next=/catalogue%3Flang%3Den%26q%3Db%25C3%25A4nk"' in anonymous and "Sign out" not in anonymous
    join(browser, member(runtime, cast.designer.id, "anna@example.se", language="en"))
    page = browser.get("/catalogue").text
    assert "Anna Berg, Studio Allmänning" in page and 'href="/studio"' in page
    assert '<button type="submit" class="secondary">Sign out</button>' in page and "?next=" not in page
    signed_out = browser.post("/logout", data={"csrf_token": token(page, "/logout")}, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert browser.get("/studio").status_code == 401


def test_a_page_that_needs_sign_in_links_to_login_and_signing_in_comes_back(browser: TestClient, cast: Cast,
                                                                           runtime: Runtime) -> None:  # fmt: skip
    join(browser, member(runtime, cast.buyer.id, "anna@example.se"))
    browser.cookies.clear()
    asked = browser.get("/orders", params={"lang": "en"})
    assert asked.status_code == 401 and 'href="/login?next=/orders%3Flang%3Den"' in asked.text
    login = browser.get("/login", params={"next": "/orders?lang=en"}).text
    assert 'name="next" value="/orders?lang=en"' in login
    back = sign_in(browser, "anna@example.se", next_path="/cart")
    assert back.status_code == 303 and back.headers["location"] == "/cart"  # type: ignore[attr-defined]


@pytest.mark.parametrize("elsewhere", [
    "https://evil.example/", "//evil.example/path", "/\\evil.example", "\\\\evil.example", "http:/evil.example",
    "javascript:alert(1)", "evil.example", "/\t/evil.example", "",
])  # fmt: skip
def test_signing_in_never_sends_the_browser_to_another_site(browser: TestClient, cast: Cast, runtime: Runtime,
                                                           elsewhere: str) -> None:  # fmt: skip
    join(browser, member(runtime, cast.buyer.id, "anna@example.se"))
    browser.cookies.clear()
    assert 'name="next"' not in browser.get("/login", params={"next": elsewhere}).text
    answer = sign_in(browser, "anna@example.se", next_path=elsewhere)
    assert answer.status_code == 303 and answer.headers["location"] == "/orders"  # type: ignore[attr-defined]


def test_the_persons_language_is_the_pages_unless_asked_otherwise(browser: TestClient, cast: Cast,
                                                                 runtime: Runtime) -> None:  # fmt: skip
    join(browser, member(runtime, cast.buyer.id, "anna@example.se", language="en"))
    browser.cookies.delete("lang")
    assert '<html lang="en">' in browser.get("/orders", headers={"Accept-Language": "sv"}).text
    assert '<html lang="sv">' in browser.get("/orders", params={"lang": "sv"}).text
    assert '<html lang="sv">' in browser.get("/orders").text  # the cookie set by ?lang= is remembered
    browser.get("/orders", params={"lang": "en"})
    assert '<html lang="en">' in browser.get("/orders", headers={"Accept-Language": "sv"}).text
