"""`vardekedja init` and `vardekedja demo` as `make run` runs them, again and again."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from typer.testing import CliRunner

from vardekedja.application import Marketplace
from vardekedja.cli import app as cli
from vardekedja.settings import Settings

LINE = re.compile(r"^  (\S.*?)\s{2,}(\S.*?)\s{2,}(vk_\S+)$", re.MULTILINE)


def run(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"VARDEKEDJA_DATA_DIR": str(folder), "VARDEKEDJA_DATABASE_URL": "",
                                                      "VARDEKEDJA_OPERATOR_KEY": ""})  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def printed_keys(output: str) -> dict[str, tuple[str, str]]:
    return {name: (role, key) for name, role, key in LINE.findall(output)}


def active_keys(folder: Path) -> dict[str, int]:
    app = Marketplace(Settings(data_dir=folder, database_url=None).event_store_env())
    try:
        organisations = [app.organisation(item.organisation_id) for item in app.directory().listings.values()]
        return {organisation.name: len(organisation.api_keys) for organisation in organisations}
    finally:
        app.close()


def test_the_demo_prints_the_role_beside_each_organisation(tmp_path: Path) -> None:
    keys = printed_keys(run(tmp_path, "demo"))

    assert keys["Hovsjö Gårdar"][0] == "area company"
    assert keys["Botkyrkabyggen"][0] == "buyer" and keys["Järva Verkstad"][0] == "workshop"
    assert len(keys) == 10


def test_running_the_demo_again_reuses_its_keys_instead_of_piling_up_new_ones(tmp_path: Path) -> None:
    first = printed_keys(run(tmp_path, "demo"))
    second_output = run(tmp_path, "demo")
    second = printed_keys(second_output)

    assert second == first
    assert "10 of 10 keys reused" in second_output
    assert set(active_keys(tmp_path).values()) == {1}
    kept = tmp_path / "demo-keys.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_demo_key_revoked_meanwhile_is_replaced_and_only_that_one(tmp_path: Path) -> None:
    first = printed_keys(run(tmp_path, "demo"))
    app = Marketplace(Settings(data_dir=tmp_path, database_url=None).event_store_env())
    try:
        buyer = next(item for item in app.directory().listings.values() if item.org_number == "556030-7885")
        app.revoke_api_key(buyer.organisation_id, first["Botkyrkabyggen"][1].split("_")[1])
    finally:
        app.close()

    again = printed_keys(run(tmp_path, "demo"))

    assert again["Botkyrkabyggen"] != first["Botkyrkabyggen"]
    assert {name: key for name, key in again.items() if name != "Botkyrkabyggen"} == {
        name: key for name, key in first.items() if name != "Botkyrkabyggen"
    }


def test_init_again_issues_no_further_operator_key_unless_asked(tmp_path: Path) -> None:
    first = run(tmp_path, "init")
    again = run(tmp_path, "init")
    asked = run(tmp_path, "init", "--new-key")

    assert re.search(r"^operator key\s+vk_\S+$", first, re.MULTILINE)
    assert "vk_" not in again and "--new-key" in again
    assert re.search(r"^operator key\s+vk_\S+$", asked, re.MULTILINE)
    assert active_keys(tmp_path)["Värdekedja operator"] == 2
