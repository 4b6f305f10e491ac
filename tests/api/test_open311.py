"""Open311 GeoReport v2 as a client app uses it: form-encoded reports against a real server on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.api.care_support import installed_pieces
from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Cast, str]]:
    """The app served by uvicorn on a free loopback port, with a cast set up beside it (the report limit as given)."""
    limit = getattr(request, "param", "100/minute")
    settings = Settings(data_dir=tmp_path, database_url=None, operator_key=OPERATOR_KEY, report_rate_limit=limit)
    runtime = Runtime(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with TestClient(create_app(runtime=runtime)) as client:  # for setting up the chain quickly
            yield register_cast(Api(client, runtime), OPERATOR_KEY), f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()


def _wait_for(http: httpx.Client, path: str, check: Any) -> Any:
    deadline = time.monotonic() + 5
    while True:
        body = http.get(path).json()
        if check(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_georeport_client_reports_a_fault_and_follows_it(served: tuple[Cast, str]) -> None:
    cast, url = served
    (piece,) = installed_pieces(cast)
    with httpx.Client(base_url=url, timeout=10) as http:
        services = ok(http.get("/open311/v2/services.json"))
        assert {s["service_code"] for s in services} == {"safety", "damage", "graffiti", "cleaning", "other"}
        assert all(set(s) == {"service_code", "service_name", "description", "metadata", "type", "keywords",
                              "group"} for s in services)  # fmt: skip
        definition = ok(http.get("/open311/v2/services/safety.json"))
        assert definition["attributes"][0]["code"] == "asset" and definition["attributes"][0]["required"] is True

        sent = http.post("/open311/v2/requests.json", data={
            "jurisdiction_id": "botkyrka.se", "service_code": "safety", "description": "Loose slat, Anna 070-1234567",
            "attribute[asset]": piece["code"], "lat": "59.2466", "long": "17.8241", "email": "anna@example.se",
            "first_name": "Anna", "last_name": "Andersson", "media_url": "https://example.se/p.jpg",
        })  # fmt: skip
        assert sent.status_code == 201, sent.text
        (created,) = sent.json()
        assert set(created) == {"service_request_id", "service_notice", "account_id"}
        request_id = created["service_request_id"]

        (one,) = _wait_for(http, f"/open311/v2/requests/{request_id}.json", lambda body: "service_request_id" in body[0])
        assert one["service_request_id"] == request_id and one["status"] == "open"
        assert one["agency_responsible"] == cast.area_company.name and one["address_id"] == piece["code"]
        assert (one["lat"], one["long"]) == (59.2466, 17.8241)
        # No personal data in public answers: neither the contact details nor the free text.
        listed = http.get("/open311/v2/requests.json").text
        for private in ("Anna", "anna@example.se", "070-1234567", "Andersson", "Loose slat"):
            assert private not in listed and private not in http.get(f"/open311/v2/requests/{request_id}.json").text
        # The area company may contact the reporter; the buyer sees the report but not who made it.
        order = ok(cast.area_company.get(f"/v1/maintenance-orders/{request_id}"))
        assert order["contact"] == {"email": "anna@example.se", "first_name": "Anna", "last_name": "Andersson",
                                    "phone": None}  # fmt: skip
        assert order["description"] == "Loose slat, Anna 070-1234567"
        seen_by_buyer = ok(cast.buyer.get(f"/v1/maintenance-orders/{request_id}"))
        assert seen_by_buyer["contact"] is None and seen_by_buyer["description"] == order["description"]
        # Stored only sealed: neither the event store nor the views hold them in plain text.
        data = cast.buyer.api.runtime.settings.data_dir
        for name in ("events.sqlite3", "views.sqlite3"):
            stored = b"".join(path.read_bytes() for path in data.glob(f"{name}*"))
            assert b"anna@example.se" not in stored and b"Loose slat" not in stored and b"Andersson" not in stored

        cast.area_company.post(f"/v1/maintenance-orders/{request_id}/start")
        ok(cast.area_company.post(f"/v1/maintenance-orders/{request_id}/resolve", json={"hours_worked": 1}))
        closed = _wait_for(http, "/open311/v2/requests.json?status=closed", lambda body: len(body) == 1)
        assert [item["service_request_id"] for item in closed] == [request_id]
        assert ok(http.get("/open311/v2/requests.json", params={"status": "open"})) == []


def test_bad_reports_get_a_clear_4xx_in_georeport_shape_and_nothing_is_written(served: tuple[Cast, str]) -> None:
    cast, url = served
    (piece,) = installed_pieces(cast)
    runtime = cast.buyer.api.runtime
    head = runtime.marketplace.position
    good = {"service_code": "damage", "description": "Scratched", "attribute[asset]": piece["code"]}
    with httpx.Client(base_url=url, timeout=10) as http:
        cases = [
            ({**good, "service_code": "potholes"}, 400, "service_code"),
            ({**good, "service_code": "inspection"}, 400, "service_code"),
            ({**good, "attribute[asset]": "nope"}, 400, "attribute[asset]"),
            ({**good, "attribute[asset]": "ZZZZZZZZ"}, 404, "ZZZZZZZZ"),
            ({**good, "description": " "}, 400, "description"),
            ({**good, "lat": "north"}, 400, "lat"),
            ({**good, "media_url": "javascript:alert(1)"}, 400, "media_url"),
            ({**good, "surprise": "x"}, 400, "surprise"),
        ]
        for form, status, named in cases:
            response = http.post("/open311/v2/requests.json", data=form)
            assert response.status_code == status, (form, response.text)
            (problem,) = response.json()
            assert problem["code"] == status and named in problem["description"]
        assert http.post("/open311/v2/requests.json", json=good).status_code == 415
        assert http.post("/open311/v2/requests.json", content=b"description=" + b"x" * 20_000,
                         headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
        assert http.get("/open311/v2/requests/nope.json").status_code == 400
        assert runtime.marketplace.position == head


@pytest.mark.parametrize("served", ["5/minute"], indirect=True)
def test_the_honeypot_and_the_rate_limit_refuse_abuse(served: tuple[Cast, str]) -> None:
    cast, url = served
    (piece,) = installed_pieces(cast)
    form = {"service_code": "graffiti", "description": "Tags", "attribute[asset]": piece["code"]}
    with httpx.Client(base_url=url, timeout=10) as http:
        trapped = http.post("/open311/v2/requests.json", data={**form, "website": "http://spam.example"})
        assert trapped.status_code == 400
        statuses = [http.post("/open311/v2/requests.json", data=form).status_code for _ in range(6)]
        # Five per minute per address in this test's settings; the trapped one counted too.
        assert statuses[:4] == [201] * 4 and statuses[4:] == [429, 429]
        refused = http.post("/open311/v2/requests.json", data=form)
        assert int(refused.headers["Retry-After"]) >= 1 and refused.json()[0]["code"] == 429
