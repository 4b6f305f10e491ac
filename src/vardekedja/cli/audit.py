"""``vardekedja audit``: export, verify and replay the audited history, with exit codes a script can rely on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from vardekedja import cli_projections
from vardekedja.cli import _runtime, audit_app, console, errors

# Exit codes of the audit commands (also in the README): 0 done and, for verify, the history checks out;
# 1 verify found the history changed, a checkpoint wrong or money that does not add up; 2 the command could
# not do its work (a file missing, unreadable or not an export, a bad key or time, a folder it cannot write).
EXIT_PROBLEM_FOUND = 1
EXIT_CANNOT = 2


def _cannot(message: str) -> typer.Exit:
    errors.print(f"[red]{message}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_CANNOT)


@audit_app.command("export")
def audit_export(
    file: Path = typer.Argument(..., help="Where to write the JSON Lines export."),
    after: int = typer.Option(0, min=0, help="Only events after this position (continue an earlier export)."),
) -> None:
    """Write the chained log, each event with its stored hash, and the signed checkpoints.

    Exits 0 when written, 2 when it cannot be (a folder that does not exist or cannot be written, a position
    that is not in the chain).
    """
    from vardekedja.audit.log import export
    from vardekedja.projections import faults

    partial = file.with_name(f".{file.name}.partial")
    try:
        out = partial.open("w", encoding="utf-8")
    except OSError as error:
        raise _cannot(f"cannot write {file}: {error.strerror or error}") from None
    try:
        runtime = _runtime()
        try:
            runtime.projector.catch_up()  # chain whatever is recorded but not yet chained
            with _progress(console, "exporting") as advance:
                written, checkpoints = export(runtime.audited_log, out, after=after, progress=advance)
            with runtime.database.reader.connect() as connection:
                chain_faults = [f for f in faults.all_faults(connection) if f.projection == runtime.chain.name]
        finally:
            runtime.close()
        out.close()
        partial.replace(file)  # only a whole export takes the name
    except ValueError as error:
        raise _cannot(str(error)) from None
    finally:
        out.close()
        partial.unlink(missing_ok=True)
    console.print(f"exported {written:,} events and {checkpoints:,} checkpoints to {file}")
    cli_projections.report(errors, chain_faults, prefix="the export ends there: ")


@audit_app.command("verify")
def audit_verify(
    file: Path = typer.Argument(..., help="An export written by 'audit export'."),
    public_key: str | None = typer.Option(None, "--public-key", help="Base64 Ed25519 key (GET /v1/audit/public-key)."),
    extends: Path | None = typer.Option(None, help="An older export this one must extend."),
    impact: Path | None = typer.Option(None, help="A published impact report (JSON) to recompute from the export."),
) -> None:
    """Check an export offline: chain, checkpoints and money (and an impact report).

    Exits 0 when the history checks out, 1 when it does not (a changed, missing or inserted event, a bad
    checkpoint, money that does not add up, not extending OLDER, an impact report the events do not make),
    2 when it cannot be checked (a file missing, unreadable or not an export, a public key that is not one).
    """
    from vardekedja.audit.keys import parse_public_key
    from vardekedja.audit.log import ExportUnreadableError, verify_file
    from vardekedja.cli_impact import check_impact

    if public_key is not None:
        try:
            parse_public_key(public_key)
        except ValueError as error:
            raise _cannot(f"--public-key: {error}") from None
    try:
        report = verify_file(file, public_key, extends=extends)
        impact_problems = check_impact(file, impact) if impact is not None else []
    except ExportUnreadableError as error:
        raise _cannot(str(error)) from None
    except (OSError, ValueError, KeyError) as error:  # the impact report
        raise _cannot(f"cannot read the impact report {impact}: {error}") from None
    for note in report.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if report.first_break is not None:
        typer.echo(f"BROKEN at {report.first_break}")
    for finding in report.checkpoint_problems:
        typer.echo(f"CHECKPOINT {finding}")
    for problem in report.money_problems:
        typer.echo(f"MONEY order {problem['order_id']}: {'; '.join(problem['problems'])}")
    for problem in impact_problems:
        typer.echo(f"IMPACT {problem}")
    if not report.ok or impact_problems:
        raise typer.Exit(EXIT_PROBLEM_FOUND)
    if impact is not None:
        typer.echo(f"impact: the report in {impact} is what the export's events make")
    typer.echo(f"ok: {report.events_checked:,} events, {report.checkpoints_checked:,} checkpoints, "
               f"{report.orders_checked:,} orders add up; head {report.head_position} {report.head_hash}")  # fmt: skip


@audit_app.command("replay")
def audit_replay(
    as_of: str = typer.Option(..., "--as-of", metavar="TIME",
                              help="ISO 8601, e.g. 2026-11-26T15:00:00+01:00; without an offset the time is "
                                   "Stockholm time (2026-11-26 15:00)."),  # fmt: skip
    into: Path | None = typer.Option(None, help="Folder for the replayed views (default: a new one under the data folder)."),
) -> None:
    """Rebuild every view as it stood at a moment into a separate database, and say what it holds.

    Exits 0 when replayed, 2 for a time it cannot replay (not a time, before the first event, in the future)
    or a folder it cannot write.
    """
    from rich.table import Table

    from vardekedja.audit.replay import ReplayRefusedError, parse_moment, replay_views

    try:
        moment = parse_moment(as_of)
    except ValueError as error:
        raise _cannot(f"--as-of: {error}") from None
    runtime = _runtime()
    target = into or runtime.settings.data_dir / f"replay-{moment.strftime('%Y%m%dT%H%M%S%z')}"
    try:
        with _progress(console, "replaying") as advance:
            replayed = replay_views(runtime.marketplace, moment, target, progress=advance)
    except ReplayRefusedError as error:
        raise _cannot(str(error)) from None
    except OSError as error:
        raise _cannot(f"cannot write the replayed views into {target}: {error.strerror or error}") from None
    finally:
        runtime.close()
    console.print(replayed.describe(), highlight=False, soft_wrap=True)
    table = Table("view", "rows", "by status")
    for name, counts in replayed.summary.items():
        by_status = ", ".join(f"{k.removeprefix('status=')} {v}" for k, v in counts.items() if k != "rows")
        table.add_row(name, str(counts["rows"]), by_status)
    console.print(table)
    console.print(f"the views as they stood then are in {target / 'views.sqlite3'}", highlight=False, soft_wrap=True)


@contextmanager
def _progress(console: Console, what: str) -> Iterator[Any]:
    """A transient progress bar on a terminal, yielding its ``advance(done, head)``; nothing elsewhere (a pipe
    or a file gets the summary only)."""
    from rich.progress import Progress

    if not console.is_terminal:
        yield None
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(what, total=None)
        yield lambda done, head: progress.update(task, completed=done, total=head)
