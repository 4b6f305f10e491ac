"""The API docs work without the internet, and make run installs only what running needs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]


def _scripts_and_styles(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html) + re.findall(r"url: '([^']+)'", html)


def test_the_docs_load_every_asset_from_this_server(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200, page
        assets = _scripts_and_styles(response.text)
        assert assets, f"{page} names no script"
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            fetched = client.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
        assert "cdn." not in response.text and "fonts.googleapis" not in response.text, page


def test_make_run_installs_what_running_needs_and_not_the_test_tools() -> None:
    planned = subprocess.run(["make", "-n", "-B", "run"], cwd=REPO, capture_output=True, text=True, check=True).stdout

    installs = [line for line in planned.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("test" not in line for line in installs), planned
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    demo_extra = re.search(r"^demo = \[(.*?)\]", pyproject, re.S | re.M)
    assert demo_extra is not None and "playwright" not in demo_extra.group(1) and "localstripe" in demo_extra.group(1)
