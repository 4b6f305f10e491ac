"""The payment page speaks the language the web pages speak: ``?lang=``, the cookie, ``Accept-Language``."""

from __future__ import annotations

import json
import re
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient


def _words(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="words">(.*?)</script>', html, re.S)
    assert found is not None, html
    return dict(json.loads(found.group(1)))


@pytest.mark.parametrize(
    ("how", "language", "heading", "button", "paid"),
    [
        ({}, "sv", "Betala beställningen", "Betala", "Betalt – tack!"),
        ({"params": {"lang": "en"}}, "en", "Pay for your order", "Pay", "Paid – thank you!"),
        ({"headers": {"Accept-Language": "en-GB,en;q=0.9"}}, "en", "Pay for your order", "Pay", "Paid – thank you!"),
        ({"cookies": {"lang": "en"}, "headers": {"Accept-Language": "sv"}}, "en", "Pay for your order", "Pay",
         "Paid – thank you!"),
        ({"params": {"lang": "sv"}, "headers": {"Accept-Language": "en"}}, "sv", "Betala beställningen", "Betala",
         "Betalt – tack!"),
    ],
)  # fmt: skip
def test_the_payment_page_is_in_the_language_the_web_pages_choose(client: TestClient, how: dict, language: str,
                                                                   heading: str, button: str, paid: str) -> None:  # fmt: skip
    cookies = how.pop("cookies", {})
    for name, value in cookies.items():
        client.cookies.set(name, value)
    response = client.get(f"/pay/{uuid4()}", **how)

    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{language}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert re.search(rf'<button id="pay" type="submit" disabled>{button}</button>', html)
    words = _words(html)
    assert words["paid"] == paid
    assert words["locale"] == {"sv": "sv-SE", "en": "en-GB"}[language]
    assert response.headers["cache-control"] == "no-store"
    if language == "en":
        assert not re.search(r"Betala|Kortnummer|Testkort|inkl\. moms", html)
        assert "Card number" in html or "Card number" in words.values()


def test_lang_in_the_address_is_remembered_as_the_web_pages_remember_it(client: TestClient) -> None:
    response = client.get(f"/pay/{uuid4()}", params={"lang": "en"})
    assert response.cookies.get("lang") == "en"
    assert '<html lang="en">' in client.get(f"/pay/{uuid4()}").text


def test_the_payment_page_runs_no_inline_script_or_style_and_says_so_in_its_policy(client: TestClient) -> None:
    response = client.get(f"/pay/{uuid4()}")

    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert re.search(r"script-src 'self' https://js\.stripe\.com", policy), policy
    html = response.text
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attributes or 'type="application/json"' in attributes for attributes in scripts)
    assert "<style" not in html and " style=" not in html


def test_with_the_local_stand_in_the_policy_opens_only_to_its_address() -> None:
    from vardekedja.web.routes.pay import payment_policy

    policy = payment_policy("http://127.0.0.1:8420/js.stripe.com/v3/", "http://127.0.0.1:8420")

    assert "script-src 'self' http://127.0.0.1:8420;" in policy
    assert "connect-src 'self' http://127.0.0.1:8420;" in policy
    assert "stripe.com;" not in policy.replace("https://*.stripe.com;", "")  # only the card brands' pictures
