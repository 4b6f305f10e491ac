"""A piece's public page, /a/{code}: what it is, and a fault report form with the limits of Open311 behind it."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID

from fastapi.testclient import TestClient

from tests.api.care_support import installed_pieces
from tests.api.support import Cast, ok
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.api.fault_reports import ClientLimits
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.projections.care import CareView
from vardekedja.runtime import Runtime


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _report(client: TestClient, code: str, **fields: str) -> tuple[int, str, str]:
    token = _token(client.get(f"/a/{code}", params={"lang": "en"}).text)
    sent = client.post(f"/a/{code.lower()}", data={"csrftoken": token, "service_code": "damage", "website": "",
                                                   **fields}, follow_redirects=False)  # fmt: skip
    return sent.status_code, sent.headers.get("location", ""), sent.text


def _orders(runtime: Runtime) -> list[dict]:
    caught_up(runtime)
    with runtime.database.reader.connect() as views:
        return runtime.view(CareView).list_maintenance(views, limit=100).items


def test_the_page_says_what_the_piece_is_in_the_reader_s_language(client: TestClient, cast: Cast) -> None:
    (piece,) = installed_pieces(cast, title="Parkbänk Fittja")
    swedish = client.get(f"/a/{piece['code']}")
    assert swedish.status_code == 200 and "Parkbänk Fittja" in swedish.text and cast.area_company.name in swedish.text
    assert "Anmäl ett fel" in swedish.text and 'lang="sv"' in swedish.text
    assert "script-src 'self'" in swedish.headers["content-security-policy"] and "<style" not in swedish.text
    english = client.get(f"/a/{piece['code'].lower()}", params={"lang": "en"}).text
    assert "Report a fault" in english and '<label for="f-description">What is wrong</label>' in english
    missing = client.get("/a/ZZZZZZZZ", params={"lang": "en"})
    assert missing.status_code == 404 and "No piece has the code ZZZZZZZZ" in missing.text


def test_a_report_is_sent_then_thanked_for_after_a_redirect(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    status, location, _ = _report(client, piece["code"], description="Ryggstödet har lossnat",
                                  email="anna@example.se")  # fmt: skip
    assert status == 303 and location.startswith(f"/a/{piece['code']}?sent=")
    reference = location.split("sent=")[1]
    thanked = client.get(f"{location}&lang=en").text
    assert 'role="status"' in thanked and reference in thanked
    (order,) = _orders(runtime)
    assert str(order["id"]) == reference and order["service_code"] == "damage"
    seen = ok(cast.area_company.get(f"/v1/maintenance-orders/{reference}"))
    assert seen["description"] == "Ryggstödet har lossnat" and seen["contact"]["email"] == "anna@example.se"


def test_what_is_wrong_with_a_report_is_said_beside_its_field_and_nothing_is_written(
    client: TestClient, runtime: Runtime, cast: Cast,
) -> None:  # fmt: skip
    (piece,) = installed_pieces(cast)
    status, _, page = _report(client, piece["code"], description="  ", email="anna@example.se")
    assert status == 422 and 'id="description-error"' in page and "Say what is wrong." in page
    assert 'aria-invalid="true" aria-describedby="description-error"' in page and 'value="anna@example.se"' in page
    status, _, page = _report(client, piece["code"], description="x" * 4001)
    assert status == 422 and "Write at most 4000 characters." in page
    status, _, page = _report(client, piece["code"], description="Trasig", service_code="inspection")
    assert status == 422 and 'id="service_code-error"' in page
    status, _, page = _report(client, piece["code"], description="Köp billiga klockor", website="http://spam.example")
    assert status == 422 and 'id="form-error"' in page
    assert _orders(runtime) == []


def test_the_form_needs_its_token_and_the_rate_limit_holds(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    forged = client.post(f"/a/{piece['code']}", data={"service_code": "damage", "description": "Trasig"})
    assert forged.status_code == 403
    client.app.state.client_limits = ClientLimits(reports="2/minute")  # type: ignore[attr-defined]
    assert [_report(client, piece["code"], description=f"Trasig {n}")[0] for n in range(2)] == [303, 303]
    token = _token(client.get(f"/a/{piece['code']}").text)
    refused = client.post(f"/a/{piece['code']}", data={"csrftoken": token, "service_code": "damage",
                                                       "description": "Trasig igen"})  # fmt: skip
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert 'id="form-error"' in refused.text and "Too many reports" in refused.text
    assert len(_orders(runtime)) == 2


def test_a_buyer_follows_the_maintenance_of_its_pieces_and_sees_what_is_overdue(
    client: TestClient, runtime: Runtime, cast: Cast,
) -> None:  # fmt: skip
    (piece,) = installed_pieces(cast, title="Parkbänk Fittja")
    runtime.marketplace.report_fault(UUID(piece["id"]), ServiceCode.SAFETY, "Lös planka",
                                     contact={"email": "anna@example.se"})
    caught_up(runtime)
    sign_in(client, cast.buyer)
    assert 'href="/orders/maintenance"' in client.get("/orders").text
    page = client.get("/orders/maintenance", params={"lang": "en"}).text
    assert "Parkbänk Fittja" in page and "Lös planka" in page and "anna@example.se" not in page
    assert ">overdue<" not in page and "No maintenance orders." in client.get(
        "/orders/maintenance", params={"lang": "en", "overdue": "true"}).text
    opened = runtime.clock()
    runtime.clock = lambda: opened + timedelta(hours=25)  # safety is expected within 24 hours
    late = client.get("/orders/maintenance", params={"lang": "en", "overdue": "true"}).text
    assert ">overdue<" in late and "Lös planka" in late
    sign_in(client, cast.other_buyer)
    assert "Lös planka" not in client.get("/orders/maintenance").text
