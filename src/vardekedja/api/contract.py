"""The published contract: ``api/openapi.json`` is this app's OpenAPI document, kept in step by a test.

    python -m vardekedja.api.contract            # rewrite api/openapi.json
    python -m vardekedja.api.contract --check    # exit 1 if it has drifted
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from vardekedja.api.app import create_app
from vardekedja.settings import Settings

CONTRACT = Path(__file__).resolve().parents[3] / "api" / "openapi.json"


def document() -> dict[str, Any]:
    """The OpenAPI document; building the app touches no database until it starts."""
    with tempfile.TemporaryDirectory() as folder:
        return create_app(Settings(data_dir=Path(folder), database_url=None)).openapi()


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != text:
            print(f"{CONTRACT} is out of date: run python -m vardekedja.api.contract", file=sys.stderr)
            return 1
        return 0
    CONTRACT.write_text(text, encoding="utf-8")
    print(f"wrote {CONTRACT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
