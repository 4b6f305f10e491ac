"""People against ``vardekedja serve`` as a real process: invited, joined, signed in, acting, removed, refused.

A real browser's cookie handling stands in here as httpx's: the session cookie
comes back over plain HTTP because the server is on a loopback address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.chain import ORG_NUMBERS
from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja
from tests.e2e.test_server import OPERATOR_KEY, bearer, cli, ok

PASSWORD = "kvarnstugan mot ängen 17"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("people-e2e")
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    cli("init", env=env)
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, port=port,
                       log=folder / "server.log") as running:  # fmt: skip
        running.wait_until_ready()
        yield running


def token_in(page: str, action: str) -> str:
    form = page[page.index(f'action="{action}'):]
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found, page
    return found.group(1)


def test_a_person_joins_signs_in_acts_and_is_refused_once_removed(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0) as operator, \
            httpx.Client(base_url=server.url, timeout=10.0, follow_redirects=True,
                         headers={"Accept-Language": "en"}) as browser:  # fmt: skip
        organisation = ok(operator.post("/v1/organisations", headers=bearer(OPERATOR_KEY), json={
            "name": "Botkyrkabyggen", "role": "buyer", "org_number": ORG_NUMBERS[0], "municipality": "Botkyrka"}),
            201)["id"]  # fmt: skip
        invited = ok(operator.post(f"/v1/organisations/{organisation}/people", headers=bearer(OPERATOR_KEY),
                                   json={"name": "Anna Berg", "email": "anna@example.se"}), 201)  # fmt: skip
        assert invited["invite_url"].startswith(server.url + "/invite/")
        path = invited["invite_url"].removeprefix(server.url)

        page = browser.get(path)
        joined = browser.post(path, data={"password": PASSWORD, "csrf_token": token_in(page.text, "/invite/")})
        assert joined.status_code == 200 and joined.url.path == "/orders"  # the buyer's main page, after 303
        assert "Anna Berg, Botkyrkabyggen" in joined.text and 'action="/logout"' in joined.text
        assert ok(browser.get("/v1/me"))["id"] == organisation
        csrf = token_in(browser.get("/login").text, "/logout")
        ok(browser.post(f"/v1/organisations/{organisation}/people", headers={"X-CSRF-Token": csrf},
                        json={"name": "Bo Ek", "email": "bo@example.se"}), 201)  # fmt: skip

        removed = operator.delete(f"/v1/organisations/{organisation}/people/{invited['id']}",
                                  headers=bearer(OPERATOR_KEY))  # fmt: skip
        assert removed.status_code == 204
        assert browser.get("/v1/me").status_code == 401
        page = browser.get("/login")
        again = browser.post("/login", data={"email": "anna@example.se", "password": PASSWORD,
                                             "csrf_token": token_in(page.text, "/login")})  # fmt: skip
        assert again.status_code == 401 and "wrong" in again.text

    logged = server.log()
    assert "GET /invite/" in logged  # the access log is on
    token = path.removeprefix("/invite/")
    for secret_or_personal in (token, "Anna Berg", "anna@example.se", PASSWORD):
        assert secret_or_personal not in logged
