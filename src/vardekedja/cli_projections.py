"""``vardekedja projections`` commands for events a projection could not apply (see projections/faults.py).

    vardekedja projections faults              # what is stopped or parked, and why
    vardekedja projections resume NAME         # a stopped projection tries its event again (the code is fixed)
    vardekedja projections skip NAME           # a stopped projection parks its event and goes on
    vardekedja projections faults --clear [NAME]   # acknowledge parked events (after a rebuild, say)

A running projector notices within a second or so; none has to be restarted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from vardekedja.projections import faults

if TYPE_CHECKING:
    from vardekedja.runtime import Runtime


def report(console: Console, found: list[faults.Fault], *, prefix: str = "") -> None:
    """Print each fault; say how to go on where one is stopped."""
    for fault in found:
        console.print(prefix + fault.describe(), markup=False, highlight=False)
    if any(f.action == faults.STOPPED for f in found):
        console.print("resume once fixed: vardekedja projections resume NAME (or skip NAME)")


def register(projections_app: typer.Typer, runtime: Callable[[], Runtime], console: Console,
             errors: Console) -> None:  # fmt: skip
    """Add the commands to ``vardekedja projections``; ``runtime()`` builds a Runtime from the settings."""

    def names(rt: Runtime) -> list[str]:
        return [p.name for p in rt.projections] + [rt.chain.name]

    def check(rt: Runtime, name: str | None) -> None:
        if name is not None and name not in names(rt):
            errors.print(f"[red]no projection {name!r}; there are: {', '.join(names(rt))}[/red]")
            raise typer.Exit(2)

    @projections_app.command("faults")
    def list_faults(
        clear: bool = typer.Option(False, "--clear", help="Forget the parked events (stopped ones stay)."),
        name: str | None = typer.Argument(None, help="One projection; all of them when left out."),
    ) -> None:
        """Events a projection stopped at or skipped (parked), with the error and the position."""
        rt = runtime()
        try:
            check(rt, name)
            with rt.database.writer.begin() as connection:
                if clear:
                    cleared = faults.clear(connection, name, action=faults.PARKED)
                found = [f for f in faults.all_faults(connection) if name is None or f.projection == name]
        finally:
            rt.close()
        if clear:
            console.print(f"cleared {cleared} parked event(s)")
        for fault in found:
            console.print(fault.describe(), markup=False, highlight=False)
        if not found and not clear:
            console.print("no faults: every projection applied every event")
        raise typer.Exit(1 if any(f.action == faults.STOPPED for f in found) else 0)

    @projections_app.command("resume")
    def resume(name: str = typer.Argument(..., help="The stopped projection.")) -> None:
        """Try the event a projection stopped at again (once the code that failed on it is fixed)."""
        rt = runtime()
        try:
            check(rt, name)
            with rt.database.writer.begin() as connection:
                count = faults.clear(connection, name, action=faults.STOPPED)
        finally:
            rt.close()
        if count == 0:
            errors.print(f"[yellow]{name} is not stopped[/yellow]")
            raise typer.Exit(1)
        console.print(f"{name} resumes; if the event still cannot be applied it stops there again")

    @projections_app.command("skip")
    def skip(name: str = typer.Argument(..., help="The stopped projection.")) -> None:
        """Park the event a projection stopped at and let it go on (its view then lacks that event)."""
        rt = runtime()
        try:
            check(rt, name)
            with rt.database.writer.begin() as connection:
                stopped = faults.stopped(connection).get(name)
                if stopped is not None:
                    if name == rt.chain.name:
                        errors.print("[red]the audit chain vouches for every event in order and cannot skip one[/red]")
                        raise typer.Exit(2)
                    view = next(p.view for p in rt.projections if p.name == name)
                    at = view.position(connection)
                    if at < stopped:
                        view.advance(connection, at, stopped)
                    faults.park(connection, name, stopped)
        finally:
            rt.close()
        if stopped is None:
            errors.print(f"[yellow]{name} is not stopped[/yellow]")
            raise typer.Exit(1)
        console.print(f"{name} skipped the event at position {stopped} (parked) and goes on; "
                      f"rebuild it once the code is fixed: vardekedja projections rebuild {name}")  # fmt: skip
