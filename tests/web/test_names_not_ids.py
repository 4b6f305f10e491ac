"""People read names, not ids: an order is named by its site and date, a stream by what it is, with its
state as fields and values (the raw id shown once, small, for auditors who need it)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.support import Cast, design_body, ok, place
from tests.web.conftest import caught_up
from tests.web.test_orders import design, sign_in  # noqa: F401 - the fixture
from vardekedja.runtime import Runtime


def _visible(html: str) -> str:
    """The text a person reads: no tags, no attributes, no scripts."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _heading(html: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert found is not None
    return _visible(found.group(1)).strip()


def test_the_order_page_names_the_order_by_its_site_and_date_not_its_id(client: TestClient, runtime: Runtime,
                                                                        cast: Cast, design: str) -> None:  # noqa: F811
    order = place(cast.buyer, (design, 1))
    caught_up(runtime)
    sign_in(client, cast.buyer)
    site = order["delivery_site"]["name"]
    for language, named, reference in (("en", f"Order to {site}", "Reference"),
                                       ("sv", f"Beställning till {site}", "Referens")):  # fmt: skip
        html = client.get(f"/orders/{order['id']}", params={"lang": language}).text
        assert _heading(html).startswith(named), _heading(html)
        text = _visible(html)
        assert order["id"] not in text and "Order number" not in text and "Beställningsnummer" not in text
        short = order["id"].replace("-", "")[:8].upper()
        assert f"{reference} {short[:4]}-{short[4:]}" in text


def test_a_stream_is_headed_by_what_it_is_with_its_state_as_fields(client: TestClient, runtime: Runtime, cast: Cast,
                                                                   design: str) -> None:  # noqa: F811
    order = place(cast.buyer, (design, 1))
    drafted = ok(cast.designer.post("/v1/designs", json=design_body(title="Bänk B")), 201)
    caught_up(runtime)
    sign_in(client, cast.auditor)

    site = order["delivery_site"]["name"]
    html = client.get(f"/audit/streams/{order['id']}", params={"lang": "en"}).text
    assert _heading(html) == f"An order to {site}"
    text = _visible(html)
    assert text.count(order["id"]) == 1  # once, small, for whoever needs the id
    assert '<pre class="state">' not in html and '"delivery_site": {' not in html
    assert re.search(rf"<dt>Delivery site</dt>\s*<dd>.*?<dt>Name</dt>\s*<dd>{re.escape(site)}</dd>", html, re.S), html

    swedish = client.get(f"/audit/streams/{order['id']}", params={"lang": "sv"}).text
    assert _heading(swedish) == f"En beställning till {site}"
    assert re.search(r"<dt>Leveransplats</dt>", swedish) and re.search(r"<dt>Status</dt>\s*<dd>lagd</dd>", swedish)
    assert "<li>snickeri</li>" in swedish and "carpentry" not in _visible(swedish)  # the catalogue's words, too

    assert _heading(client.get(f"/audit/streams/{drafted['id']}", params={"lang": "en"}).text) == "The design Bänk B"
    organisation = client.get(f"/audit/streams/{cast.buyer.id}", params={"lang": "en"}).text
    assert _heading(organisation) == f"The organisation {cast.buyer.name}"


def test_the_parties_and_designs_a_stream_points_to_are_named_and_linked(client: TestClient, runtime: Runtime,
                                                                        cast: Cast, design: str) -> None:  # noqa: F811
    order = place(cast.buyer, (design, 1))
    caught_up(runtime)
    sign_in(client, cast.auditor)
    html = client.get(f"/audit/streams/{order['id']}", params={"lang": "en"}).text
    assert re.search(rf'<dt>Buyer</dt>\s*<dd><a href="/audit/streams/{cast.buyer.id}">{re.escape(cast.buyer.name)}</a>',
                     html), html  # fmt: skip
    assert f'<a href="/audit/streams/{design}">Parkbänk Fittja</a>' in html
    assert str(cast.buyer.id) not in _visible(html) and design not in _visible(html)
