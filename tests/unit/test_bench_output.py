"""Benchmarks written to a file or a pipe: a summary, not one endless line of carriage returns."""

from __future__ import annotations

import pytest

from bench.workload import generate
from vardekedja.application import Marketplace


def test_generating_a_history_into_a_pipe_prints_no_progress_line(capsys: pytest.CaptureFixture[str]) -> None:
    head = generate(Marketplace(), 300)

    out = capsys.readouterr().out
    assert head >= 300
    assert "\r" not in out and "generating" not in out


def test_generating_a_history_on_a_terminal_redraws_its_progress(capsys: pytest.CaptureFixture[str]) -> None:
    generate(Marketplace(), 300, progress=True)

    assert "\r  generating:" in capsys.readouterr().out
