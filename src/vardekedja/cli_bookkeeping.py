"""``vardekedja bookkeeping export --sie FILE [--from DAY] [--to DAY]``: the books as an SIE 4 file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from vardekedja.runtime import Runtime


def commands(runtime: Callable[[], Runtime], console: Console) -> typer.Typer:
    """The ``vardekedja bookkeeping`` commands; ``runtime()`` builds a Runtime from the settings."""
    bookkeeping_app = typer.Typer(help="The books: the platform's verifications as an SIE 4 file.", no_args_is_help=True)

    @bookkeeping_app.command("export")
    def export(
        sie: Path = typer.Option(..., "--sie", help="Write the SIE 4 file here (codepage 437, as SIE 4 requires)."),
        start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="First day, Swedish time."),
        end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last day, inclusive."),
    ) -> None:
        """Export the verifications of a period (all when no days are given); each #VER balances to zero."""
        from vardekedja.api.routes.bookkeeping import export_sie

        built = runtime()
        try:
            count = export_sie(built, sie, start.date() if start else None, end.date() if end else None)
        finally:
            built.close()
        console.print(f"{count} verifications written to {sie}")

    return bookkeeping_app
