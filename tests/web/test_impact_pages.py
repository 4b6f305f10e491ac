"""Impact charts on the pages: the figures of GET /v1/impact, drawn as SVG with a table of the same figures."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.care_support import installed_pieces
from tests.api.support import Cast, ok
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime


def _figures(page: str) -> dict[str, str]:
    """The table rows of the page's charts: label → figure as written."""
    return dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td></tr>', page))


def test_the_operator_sees_the_platform_as_charts_with_the_api_s_figures(client: TestClient, runtime: Runtime,
                                                                         cast: Cast) -> None:  # fmt: skip
    installed_pieces(cast, quantity=2, co2e_kg=40.0)
    caught_up(runtime)
    report = ok(cast.operator.get("/v1/impact"))
    sign_in(client, cast.operator)
    assert 'href="/admin/impact"' in client.get("/admin").text
    page = client.get("/admin/impact", params={"lang": "sv"})
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    figures = _figures(html)
    paid = report["money"]["paid_to_local_parties_ore"] // 100
    assert figures["Betalt till lokala parter"] == f"{paid:,}".replace(",", " ") + ",00 kr"
    assert figures["Tillverkning, lokalt"] == "8 h" and figures["Inbyggd"] == "80 kg"
    assert "Lokal andel av det som parterna fick betalt: 100\u00a0%." in html
    # Each chart is an SVG image with a title and a description naming every figure, and no script of its own.
    charts = re.findall(r"<svg[^>]*>.*?</svg>", html, re.S)
    assert len(charts) == 3 and all('role="img"' in svg and "<title" in svg and "<desc" in svg for svg in charts)
    assert "<script" not in "".join(charts) and "style=" not in "".join(charts)
    assert "Inbyggd: 80 kg" in charts[2]
    english = _figures(client.get("/admin/impact", params={"lang": "en"}).text)
    assert english["Paid to local parties"] == f"SEK {paid:,}.00" and english["Embodied"] == "80 kg"


def test_a_period_narrows_the_figures_and_a_date_that_cannot_be_read_is_named(client: TestClient, runtime: Runtime,
                                                                              cast: Cast) -> None:  # fmt: skip
    installed_pieces(cast, co2e_kg=40.0)
    caught_up(runtime)
    sign_in(client, cast.auditor)
    before = _figures(client.get("/audit/impact", params={"from": "2001-01-01", "to": "2001-12-31", "lang": "en"}).text)
    assert before["Embodied"] == "0 kg" and before["Production, all"] == "0 h"
    since = _figures(client.get("/audit/impact", params={"from": "2001-01-01", "lang": "en"}).text)
    assert since["Embodied"] == "40 kg"
    wrong = client.get("/audit/impact", params={"from": "1 mars", "to": "2001-01-01", "lang": "en"})
    assert wrong.status_code == 422 and 'id="from-error"' in wrong.text and "YYYY-MM-DD" in wrong.text
    assert 'aria-describedby="from-error"' in wrong.text and "<svg" not in wrong.text
    backwards = client.get("/audit/impact", params={"from": "2001-02-01", "to": "2001-01-01", "lang": "en"})
    assert backwards.status_code == 422 and 'id="to-error"' in backwards.text


def test_a_buyer_sees_its_own_orders_and_another_buyer_none_of_them(client: TestClient, runtime: Runtime,
                                                                    cast: Cast) -> None:  # fmt: skip
    installed_pieces(cast, co2e_kg=40.0)
    caught_up(runtime)
    sign_in(client, cast.buyer)
    assert 'href="/orders/impact"' in client.get("/orders").text
    assert _figures(client.get("/orders/impact", params={"lang": "en"}).text)["Embodied"] == "40 kg"
    sign_in(client, cast.other_buyer)
    assert _figures(client.get("/orders/impact", params={"lang": "en"}).text)["Embodied"] == "0 kg"
    assert client.get("/admin/impact").status_code == 403 and client.get("/audit/impact").status_code == 403


def test_an_area_company_sees_its_work_and_its_municipality(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    installed_pieces(cast, co2e_kg=40.0)
    caught_up(runtime)
    sign_in(client, cast.area_company)
    page = client.get("/area/impact", params={"lang": "en"}).text
    assert "Your work" in page and "All work in Botkyrka" in page and len(re.findall("<svg", page)) == 6
    # Its own work: the orders it took part in, with the hours of everyone who worked on them.
    own, place = page.split("All work in Botkyrka")
    assert _figures(own)["Production, all"] == "8 h" and _figures(place)["Embodied"] == "40 kg"
    # Through the API, under the same rule: the municipality it serves, and no other.
    assert ok(cast.area_company.get("/v1/impact", params={"scope": "municipality", "id": "botkyrka"}))
    assert cast.area_company.get("/v1/impact", params={"scope": "municipality", "id": "Huddinge"}).status_code == 403
    assert cast.workshop.get("/v1/impact", params={"scope": "municipality", "id": "Botkyrka"}).status_code == 403
