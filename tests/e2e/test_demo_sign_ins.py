"""The demo prints a person of each organisation to sign in as, and a second run prints sign-ins that still work."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja
from tests.e2e.test_server import OPERATOR_KEY, cli

SIGN_IN = re.compile(r"^  (\S.*?) {2,}(\S.*?) {2,}(\S+@\S+) {2,}(\S+)$", re.MULTILINE)
HOMES = {"buyer": "/orders", "designer": "/studio", "workshop": "/workshop", "area company": "/area",
         "operator": "/admin", "auditor": "/audit"}  # fmt: skip


def sign_ins(printed: str) -> dict[str, tuple[str, str, str]]:
    """organisation → (role, email, password), as printed after the web UI's address."""
    assert "The web UI: http://127.0.0.1:8000/" in printed
    after = printed[printed.index("The web UI:"):]
    return {organisation: (role, email, password) for organisation, role, email, password in SIGN_IN.findall(after)}


def test_signing_in_with_a_printed_email_and_password_reaches_the_roles_page(tmp_path: Path) -> None:
    env = clean_environment(tmp_path / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    cli("init", env=env)
    first = sign_ins(cli("demo", env=env))
    assert len(first) == 11 and {role for role, _, _ in first.values()} == set(HOMES)
    again = sign_ins(cli("demo", env=env))
    assert again == first  # the passwords kept from the first run still sign in, so they are printed again
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, port=port,
                       log=tmp_path / "server.log") as running:  # fmt: skip
        running.wait_until_ready()
        for organisation in ("Botkyrkabyggen", "Studio Allmänning", "Värdekedja operator"):
            role, email, password = again[organisation]
            with httpx.Client(base_url=running.url, timeout=10.0, follow_redirects=True) as browser:
                page = browser.get("/login").text
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                landed = browser.post("/login", data={"email": email, "password": password, "csrf_token": token})
                assert landed.status_code == 200 and landed.url.path == HOMES[role], (organisation, landed.text[:500])
                assert organisation in landed.text and 'action="/logout"' in landed.text
                if role == "buyer":  # the demo sealed what it recorded under the data folder's keys: it reads
                    assert "Leyla Ahmed, Botkyrkabyggen" in landed.text
                    received = [item["received_by"] for item in browser.get("/v1/deliveries").json()["items"]]
                    assert "Fastighetsskötare Leyla Ahmed" in received
