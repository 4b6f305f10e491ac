"""Impact through the API and the command line: who sees which scope, and a published report checked against an export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.care_support import installed_pieces
from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, register_cast
from vardekedja.api import create_app
from vardekedja.cli import app as cli
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=runtime)) as client:
        yield register_cast(Api(client, runtime), OPERATOR_KEY)


def test_the_impact_of_an_installed_local_piece(cast: Cast) -> None:
    pieces = installed_pieces(cast, quantity=2, co2e_kg=40.0)
    order_id = pieces[0]["order_id"]
    report = ok(cast.operator.get("/v1/impact", params={"scope": "order", "id": order_id}))
    order = ok(cast.buyer.get(f"/v1/orders/{order_id}"))
    money = report["money"]
    assert money["paid_ex_vat_ore"] == order["subtotal_ore"]
    payouts = ok(cast.operator.get("/v1/payouts", params={"order_id": order_id}))["items"]
    assert money["paid_to_parties_ore"] == sum(p["amount_ore"] for p in payouts)
    # Designer, workshop and area company are all registered in Botkyrka, the site's municipality.
    assert money["paid_to_local_parties_ore"] == money["paid_to_parties_ore"] and money["local_share"] == 1
    assert report["work_hours"]["production"] == {"local": 8.0, "all": 8.0}
    assert report["co2e_kg"]["embodied"] == 80.0 and report["co2e_kg"]["deliveries"] == 1
    assert report["co2e_kg"]["baseline"]["vehicle"] == "truck" and "250" in report["co2e_kg"]["baseline"]["description"]


def test_each_party_sees_its_own_orders_and_the_overseers_everything(cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    order = {"scope": "order", "id": piece["order_id"]}
    for party in (cast.buyer, cast.workshop, cast.designer, cast.area_company, cast.operator, cast.auditor):
        assert cast.buyer.api.request("GET", "/v1/impact", party.key, params=order).status_code == 200, party.role
    assert cast.other_buyer.get("/v1/impact", params=order).status_code == 404
    assert ok(cast.buyer.get("/v1/impact", params={"scope": "organisation", "id": str(cast.buyer.id)}))
    assert cast.buyer.get("/v1/impact", params={"scope": "organisation", "id": str(cast.workshop.id)}).status_code == 404
    assert cast.buyer.get("/v1/impact", params={"scope": "platform"}).status_code == 403
    assert cast.buyer.get("/v1/impact", params={"scope": "municipality", "id": "Botkyrka"}).status_code == 403
    assert ok(cast.auditor.get("/v1/impact", params={"scope": "municipality", "id": "Botkyrka"}))
    assert cast.operator.get("/v1/impact", params={"scope": "order"}).status_code == 422
    assert cast.operator.get("/v1/impact", params={"from": "2026-01-01T00:00:00"}).status_code == 422


def test_a_published_report_is_recomputed_from_an_export_and_a_changed_one_is_caught(
    cast: Cast, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    installed_pieces(cast, quantity=2)
    runtime.close()  # the command line opens the same data folder
    monkeypatch.setenv("VARDEKEDJA_DATA_DIR", str(runtime.settings.data_dir))
    runner = CliRunner()
    published = runner.invoke(cli, ["impact", "report", "--scope", "municipality", "--id", "Botkyrka"])
    assert published.exit_code == 0, published.output
    report = json.loads(published.output)
    as_csv = runner.invoke(cli, ["impact", "report", "--format", "csv"])
    assert as_csv.exit_code == 0 and "money.paid_ex_vat_ore," in as_csv.output
    export = tmp_path / "export.jsonl"
    assert runner.invoke(cli, ["audit", "export", str(export)]).exit_code == 0
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report), encoding="utf-8")

    checked = runner.invoke(cli, ["audit", "verify", str(export), "--impact", str(report_path)])
    assert checked.exit_code == 0, checked.output
    assert "impact: the report" in checked.output

    report["money"]["paid_to_local_parties_ore"] += 1
    report_path.write_text(json.dumps(report), encoding="utf-8")
    refused = runner.invoke(cli, ["audit", "verify", str(export), "--impact", str(report_path)])
    assert refused.exit_code == 1 and "IMPACT money.paid_to_local_parties_ore" in refused.output
