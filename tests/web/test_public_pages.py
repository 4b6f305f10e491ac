"""The start page, the catalogue and a design's page, read through the ASGI app without signing in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.support import Cast, design_body, ok, publish
from tests.web.conftest import caught_up
from vardekedja.runtime import Runtime

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_the_catalogue_lists_published_designs_and_never_drafts(client: TestClient, runtime: Runtime,
                                                                 cast: Cast) -> None:  # fmt: skip
    published = publish(cast.designer, title="Parkbänk Hovsjö")
    ok(cast.designer.post("/v1/designs", json=design_body(title="Hemligt utkast")), 201)
    caught_up(runtime)
    page = client.get("/catalogue")
    assert page.status_code == 200
    assert "Parkbänk Hovsjö" in page.text and f'href="/designs/{published["id"]}"' in page.text
    assert "Hemligt utkast" not in page.text
    assert client.get("/").text.count("Parkbänk Hovsjö") == 1


def test_search_and_filters_narrow_the_catalogue_as_the_api_does(client: TestClient, runtime: Runtime,
                                                                 cast: Cast) -> None:  # fmt: skip
    publish(cast.designer, title="Parkbänk Hovsjö", category="bench")
    publish(cast.designer, title="Odlingslåda Alby", category="planter", required_capabilities=["carpentry"])
    caught_up(runtime)
    found = client.get("/catalogue", params={"q": "odlings"}).text
    assert "Odlingslåda Alby" in found and "Parkbänk Hovsjö" not in found
    assert "Parkbänk" not in client.get("/catalogue", params={"category": "planter"}).text.split("results")[1]
    cheap = client.get("/catalogue", params={"max_price": "1"}).text
    assert "Ingen publicerad formgivning matchar" in cheap
    nowhere = client.get("/catalogue", params={"municipality": "Kiruna"}).text
    assert "Odlingslåda Alby" not in nowhere


def test_a_wrong_price_filter_is_shown_beside_its_field(client: TestClient) -> None:
    page = client.get("/catalogue", params={"max_price": "tolv"})
    assert page.status_code == 200
    assert 'aria-invalid="true"' in page.text and 'id="max_price-error"' in page.text
    assert "Skriv högsta pris i hela kronor" in page.text


def test_htmx_gets_the_results_fragment_of_the_same_template(client: TestClient, runtime: Runtime,
                                                             cast: Cast) -> None:  # fmt: skip
    publish(cast.designer, title="Parkbänk Hovsjö")
    caught_up(runtime)
    fragment = client.get("/catalogue", params={"q": "park"}, headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section id="results"') and "<html" not in fragment
    assert "Parkbänk Hovsjö" in fragment


def test_a_design_page_shows_what_it_is_and_costs_with_and_without_vat(client: TestClient, runtime: Runtime,
                                                                       cast: Cast) -> None:  # fmt: skip
    # Royalty 250 kr + production 6 400 kr + installation 900 kr = 7 550 kr; platform fee 10 % = 755 kr.
    design = publish(cast.designer, title="Parkbänk Fittja", royalty_ore=250_00, production_fee_ore=6_400_00,
                     installation_fee_ore=900_00, co2e_kg=41.5, lead_time_days=21)  # fmt: skip
    caught_up(runtime)
    page = client.get(f"/designs/{design['id']}").text
    assert "8 305,00 kr" in page  # installed, ex VAT
    assert "10 381,25 kr" in page  # installed, inc VAT
    assert "7 315,00 kr" in page and "9 143,75 kr" in page  # delivered only
    assert "41,5 kg CO₂e" in page and "21 dagar" in page
    english = client.get(f"/designs/{design['id']}", params={"lang": "en"}).text
    assert "SEK 8,305.00" in english and "41.5 kg CO₂e" in english and "Add to cart" in english


def test_the_design_page_says_how_many_workshops_can_make_it_for_a_municipality(
    client: TestClient, runtime: Runtime, cast: Cast
) -> None:
    design = publish(cast.designer, required_capabilities=["carpentry", "welding"])
    caught_up(runtime)
    botkyrka = client.get(f"/designs/{design['id']}", params={"municipality": "Botkyrka", "lang": "en"}).text
    assert "2 workshops can make it for Botkyrka." in botkyrka
    huddinge = client.get(f"/designs/{design['id']}", params={"municipality": "Huddinge", "lang": "sv"}).text
    assert "1 verkstad kan tillverka den för Huddinge." in huddinge
    kiruna = client.get(f"/designs/{design['id']}", params={"municipality": "Kiruna"}, headers={"HX-Request": "true"})
    assert kiruna.text.lstrip().startswith('<div id="able"') and "Ingen verkstad" in kiruna.text


def test_drafts_and_unknown_designs_are_not_found_pages(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    caught_up(runtime)
    for path in (f"/designs/{draft['id']}", "/designs/00000000-0000-0000-0000-000000000000", "/no-such-page"):
        page = client.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), path
    assert client.get("/designs/not-a-uuid").status_code == 400
    assert client.get("/v1/designs/not-a-uuid").headers["content-type"] == "application/problem+json"


def test_a_title_with_markup_is_shown_as_text(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    design = publish(cast.designer, title="<script>alert(1)</script>", description='"><img src=x onerror=alert(2)>')
    caught_up(runtime)
    for path in ("/", "/catalogue", f"/designs/{design['id']}"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_pages_forbid_inline_scripts_by_policy_and_use_none(client: TestClient, runtime: Runtime,
                                                            cast: Cast) -> None:  # fmt: skip
    design = publish(cast.designer)
    caught_up(runtime)
    for path in ("/", "/catalogue", f"/designs/{design['id']}", "/cart", "/patterns", "/nowhere"):
        page = client.get(path)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert not INLINE_SCRIPT.search(page.text), path
        assert " style=" not in page.text and "<style" not in page.text, path
        assert page.headers["x-content-type-options"] == "nosniff"


def test_the_language_follows_lang_then_the_cookie_then_accept_language(client: TestClient) -> None:
    assert '<html lang="sv">' in client.get("/").text
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    chosen = client.get("/catalogue", params={"lang": "en"})
    assert "lang=en" in chosen.headers["set-cookie"] and '<html lang="en">' in chosen.text
    assert '<html lang="en">' in client.get("/").text  # remembered
    assert '<html lang="sv">' in client.get("/", params={"lang": "sv"}).text
    assert '<html lang="sv">' in client.get("/", headers={"Accept-Language": "en"}).text  # the cookie wins


def test_static_files_are_served_by_the_app_and_kept_when_versioned(client: TestClient) -> None:
    page = client.get("/").text
    for name in ("style.css", "htmx.min.js"):
        url = re.search(rf'/static/{re.escape(name)}\?v=\w+', page)
        assert url is not None, name
        served = client.get(url.group(0))
        assert served.status_code == 200 and "immutable" in served.headers["cache-control"]


def test_the_patterns_page_renders_every_component(client: TestClient) -> None:
    page = client.get("/patterns", params={"lang": "en"}).text
    for component in ('class="card"', 'class="filters"', 'class="order"', 'class="error"', 'class="status',
                      "SEK 1,234.50", 'class="lines"'):  # fmt: skip
        assert component in page, component


def test_a_kept_catalogue_page_shows_a_design_published_after_it_was_kept(client: TestClient, runtime: Runtime,
                                                                          cast: Cast) -> None:  # fmt: skip
    publish(cast.designer, title="Parkbänk Hovsjö")
    caught_up(runtime)
    for _ in range(2):  # the second answer comes from memory
        first = client.get("/catalogue", params={"q": "park"})
        assert "Parkbänk Hovsjö" in first.text and "Parkbänk Alby" not in first.text
    assert "set-cookie" not in first.headers  # a page without a form sets no token
    publish(cast.designer, title="Parkbänk Alby")
    caught_up(runtime)
    assert "Parkbänk Alby" in client.get("/catalogue", params={"q": "park"}).text
    english = client.get("/catalogue", params={"q": "park"}, headers={"Accept-Language": "en"})
    assert "Parkbänk Alby" in english.text and '<html lang="en">' in english.text
