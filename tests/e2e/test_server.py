"""``vardekedja serve`` as a real process on a loopback port, driven over real HTTP.

The data folder is made by ``vardekedja init`` (or ``vardekedja demo``) with the
operator key from the environment, as an operator would set it up; the server
is always stopped with SIGTERM (SIGKILL if it lingers), whatever happens.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chain import ORG_NUMBERS
from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja

OPERATOR_KEY = "vk_e2eoperator_" + "s" * 43
POSITION = "Vardekedja-Position"
MIN_POSITION = "Vardekedja-Min-Position"
COMMAND_TIMEOUT = 60

DESIGN = {
    "title": "Parkbänk Fittja", "description": "Oak slat bench on a welded steel frame", "category": "bench",
    "materials": ["oak", "steel"], "dimensions_mm": {"width": 1800, "depth": 600, "height": 800},
    "weight_kg": 45.5, "required_capabilities": ["carpentry", "welding"], "lead_time_days": 21,
    "licence": "CC-BY-4.0", "royalty_ore": 150_00, "production_fee_ore": 4_200_00,
    "installation_fee_ore": 800_00, "co2e_kg": 38.2,
}  # fmt: skip
SITE = {"name": "Gården vid Fittja torg", "street": "Fittja torg 1", "postal_code": "145 51",
        "municipality": "Botkyrka"}  # fmt: skip


def cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([vardekedja(), *args], env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                          check=False)  # fmt: skip
    assert done.returncode == 0, f"vardekedja {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``vardekedja init`` then ``vardekedja serve`` on a free port, with an empty marketplace."""
    folder = tmp_path_factory.mktemp("e2e")
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    cli("init", env=env)
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, port=port,
                       log=folder / "server.log") as running:  # fmt: skip
        running.wait_until_ready()
        yield running


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        yield client


def bearer(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def ok(response: httpx.Response, status: int = 200) -> Any:
    request = response.request
    assert response.status_code == status, f"{request.method} {request.url}: {response.status_code} {response.text}"
    return response.json()


def register(http: httpx.Client, number: str, name: str, role: str, **extra: Any) -> str:
    body = {"name": name, "role": role, "org_number": number, "municipality": "Botkyrka", **extra}
    return str(ok(http.post("/v1/organisations", json=body, headers=bearer(OPERATOR_KEY)), 201)["api_key"])


def test_a_sale_from_registration_to_a_placed_order_over_http(http: httpx.Client) -> None:
    numbers = iter(ORG_NUMBERS)
    assert ok(http.get("/v1/me", headers=bearer(OPERATOR_KEY)))["role"] == "operator"
    designer = register(http, next(numbers), "Studio Allmänning", "designer")
    register(http, next(numbers), "Fittja Snickeri", "workshop", capabilities=["carpentry", "welding"],
             service_area=["Botkyrka"])  # fmt: skip
    register(http, next(numbers), "Botkyrka Områdesföretag", "area_company", service_area=["Botkyrka"])
    buyer = register(http, next(numbers), "Botkyrkabyggen", "buyer")

    drafted = ok(http.post("/v1/designs", json=DESIGN, headers=bearer(designer)), 201)
    assert drafted["status"] == "draft"
    published = http.post(f"/v1/designs/{drafted['id']}/publish", headers=bearer(designer))
    assert ok(published)["status"] == "published"

    found = ok(http.get("/v1/catalogue", params={"q": "Parkbänk", "municipality": "Botkyrka"},
                        headers=bearer(buyer, **{MIN_POSITION: published.headers[POSITION]})))  # fmt: skip
    assert [item["id"] for item in found["items"]] == [drafted["id"]]

    order = {"delivery_site": SITE, "install": True, "lines": [{"design_id": drafted["id"], "quantity": 2}]}
    placed = http.post("/v1/orders", json=order, headers=bearer(buyer, **{"Idempotency-Key": "order-1"}))
    body = ok(placed, 201)
    # 150,00 + 4 200,00 + 800,00 kr, 10 % platform fee, two of them, 25 % VAT.
    assert (body["status"], body["subtotal_ore"], body["vat_ore"], body["total_ore"]) == (
        "placed", 11_330_00, 2_832_50, 14_162_50)

    repeat = http.post("/v1/orders", json=order, headers=bearer(buyer, **{"Idempotency-Key": "order-1"}))
    assert (repeat.status_code, repeat.json(), repeat.headers.get("idempotent-replayed")) == (201, body, "true")

    read = http.get(f"/v1/orders/{body['id']}", headers=bearer(buyer, **{MIN_POSITION: placed.headers[POSITION]}))
    assert ok(read)["total_ore"] == 14_162_50
    assert int(read.headers[POSITION]) >= int(placed.headers[POSITION])
    assert [order["id"] for order in ok(http.get("/v1/orders", headers=bearer(buyer)))["items"]] == [body["id"]]


def test_metrics_count_requests_per_route_and_show_projection_lag(http: httpx.Client) -> None:
    ok(http.get("/healthz"))
    assert http.get("/v1/me").status_code == 401
    scraped = http.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = scraped.text
    assert re.search(r'vardekedja_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]', samples)
    assert re.search(r'vardekedja_http_requests_total\{method="GET",route="/v1/me",status="401"\} [1-9]', samples)
    assert re.search(r'vardekedja_projection_lag_events\{projection="orders"\} \d+', samples)
    assert re.search(r"vardekedja_event_store_position [1-9]", samples)


def test_the_demo_serves_its_catalogue_and_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    env = clean_environment(tmp_path / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    printed = cli("demo", env=env)
    keys = {name: key for name, _role, key in re.findall(r"^  (\S.*?)\s{2,}(\S.*?)\s{2,}(vk_\S+)$", printed,
                                                         flags=re.MULTILINE)}  # fmt: skip
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, port=port,
                       log=tmp_path / "server.log") as running:  # fmt: skip
        running.wait_until_ready()
        catalogue = httpx.get(running.url + "/v1/catalogue", headers=bearer(keys["Botkyrkabyggen"]), timeout=10.0)
        assert len(ok(catalogue)["items"]) == 4
        # Uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit
        # is by SIGTERM itself; a server that ignored it would have needed SIGKILL (None).
        assert running.stop() == -signal.SIGTERM, running.log()
    assert "Application shutdown complete" in running.log()
