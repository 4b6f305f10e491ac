"""``vardekedja impact report`` and the impact check of ``vardekedja audit verify --impact``."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

impact_app = typer.Typer(help="Local money, local work and CO₂e, from the events.", no_args_is_help=True)

FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"]


def rows(report: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The report flattened to (dotted name, value) pairs, for CSV."""
    found: list[tuple[str, Any]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found += rows(value, f"{name}.")
        else:
            found.append((name, value))
    return found


@impact_app.command("report")
def impact_report(
    scope: str = typer.Option("platform", help="order, organisation, municipality or platform."),
    id: str | None = typer.Option(None, "--id", help="The order or organisation id, or the municipality's name."),
    start: datetime | None = typer.Option(None, "--from", formats=FORMATS, help="From (inclusive), with offset."),
    end: datetime | None = typer.Option(None, "--to", formats=FORMATS, help="Until (exclusive), with offset."),
    format: str = typer.Option("json", "--format", help="json or csv."),
) -> None:
    """The impact report from the views (caught up first), as JSON or as CSV (one figure a row)."""
    from vardekedja.impact.report import SCOPES, Query, baseline_from, summarise
    from vardekedja.projections.impact import ImpactView
    from vardekedja.runtime import Runtime
    from vardekedja.settings import Settings

    if scope not in SCOPES or format not in ("json", "csv") or (scope != "platform" and not id):
        typer.echo(f"--scope is one of {', '.join(SCOPES)} (with --id unless platform); --format is json or csv",
                   err=True)  # fmt: skip
        raise typer.Exit(2)
    runtime = Runtime(Settings())
    try:
        runtime.projector.catch_up()
        query = Query(scope, None if scope == "platform" else id, start, end)  # type: ignore[arg-type]
        with runtime.database.reader.connect() as connection:
            sums = runtime.view(ImpactView).sums(connection, query)
        report = summarise(query, sums, baseline_from(runtime.settings))
    finally:
        runtime.close()
    if format == "json":
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])
    writer.writerows(rows(report))
    typer.echo(out.getvalue(), nl=False)


def check_impact(export: Path, report_path: Path) -> list[str]:
    """Recompute the published report from the export; the differences (none when it holds)."""
    from vardekedja.audit.impact import differences, recompute

    published = json.loads(report_path.read_text(encoding="utf-8"))
    return differences(published, recompute(export, published))
