"""Recompute an impact report from an audit export alone (``vardekedja audit verify FILE --impact REPORT.json``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from vardekedja.audit.verify import plain
from vardekedja.impact.ledger import DictState, Fact, ImpactFold
from vardekedja.impact.report import SCOPES, Baseline, Query, facts_in_scope, summarise

PREFIX = "vardekedja:"


def facts_from_export(path: Path) -> list[Fact]:
    """Every impact fact the export's events make, in position order."""
    facts: list[Fact] = []
    fold = ImpactFold(DictState(), facts.append)
    wants, decode = fold.wants, json.JSONDecoder().decode
    with path.open(encoding="utf-8") as handle:
        handle.readline()  # the header
        for line in handle:
            # Most events are of no interest here: look at the type before decoding the line.
            start = line.find('"type":"')
            if start >= 0:
                kind = line[start + 8 : line.find('"', start + 8)].removeprefix(PREFIX)
                if not wants(kind):
                    continue
            item = decode(line)
            event = item.get("event")
            if event is None or event.get("data") is None:
                continue
            kind = event["type"].removeprefix(PREFIX)
            if wants(kind):
                fold.feed(kind, event["stream_id"], plain(event["data"]), datetime.fromisoformat(event["time"]),
                          event["position"])  # fmt: skip
    return facts


def query_of(report: dict[str, Any]) -> Query:
    """The scope and period a published report names."""
    scope = report.get("scope")
    if scope not in SCOPES:
        raise ValueError(f"the report's scope must be one of {', '.join(SCOPES)}")
    start, end = report.get("from"), report.get("to")
    return Query(scope, report.get("id"), datetime.fromisoformat(start) if start else None,
                 datetime.fromisoformat(end) if end else None)  # fmt: skip


def baseline_of(report: dict[str, Any]) -> Baseline:
    stated = report["co2e_kg"]["baseline"]
    return Baseline(stated["vehicle"], float(stated["distance_km_per_delivery"]), stated["factors_version"])


def recompute(export: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The report as the export's events make it, for the scope, period and baseline the given report states."""
    query = query_of(report)
    return summarise(query, facts_in_scope(facts_from_export(export), query), baseline_of(report))


def differences(published: dict[str, Any], recomputed: dict[str, Any], path: str = "") -> list[str]:
    """Where the published report and the recomputation disagree, as 'path: published ≠ recomputed'."""
    found = []
    for key in sorted(set(published) | set(recomputed)):
        here, a, b = f"{path}.{key}" if path else key, published.get(key), recomputed.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, here)
        elif a != b:
            found.append(f"{here}: {a!r} ≠ {b!r}")
    return found
