"""The embedded projector outlives database faults, even several in a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chain import register_cast
from tests.conftest import settings_for
from vardekedja.runtime import Runtime


@pytest.mark.parametrize("storage", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_failed_batch_followed_by_a_failed_reread_of_the_positions_does_not_stop_the_projector(
    storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    runtime = Runtime(settings_for(storage, tmp_path, request))
    try:
        cast = register_cast(runtime.marketplace)
        faults = {"step": 1, "positions": 2}
        real_step, real_positions = runtime.projector.step, runtime.database.positions

        def failing_step() -> int:
            if faults["step"]:
                faults["step"] -= 1
                raise RuntimeError("the views' database went away")
            return real_step()

        def failing_positions(*args: Any, **kwargs: Any) -> dict[str, int]:
            if faults["positions"]:
                faults["positions"] -= 1
                raise RuntimeError("and is not back yet")
            return real_positions(*args, **kwargs)

        monkeypatch.setattr(runtime.projector, "step", failing_step)
        monkeypatch.setattr(runtime.database, "positions", failing_positions)
        runtime.start_embedded_projector()

        assert runtime.wait_for(runtime.marketplace.position, timeout=15)
        assert faults == {"step": 0, "positions": 0}
        position = runtime.marketplace.issue_api_key(cast.buyer).position  # and it goes on following
        assert runtime.wait_for(position, timeout=5)
    finally:
        runtime.close()
