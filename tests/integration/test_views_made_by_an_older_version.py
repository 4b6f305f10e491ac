"""A views database made by an older version (a table without a column this one declares, or a view of another
``View.version``) is rebuilt at start."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

from tests.chain import BENCH, published_design, register_cast
from tests.unit.flow import place_and_pay, settle
from vardekedja.domain.order import LineRequest
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.payouts import PayoutsView
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


def test_a_catalogue_search_index_without_materials_is_rebuilt_and_then_finds_them(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, embedded_projector=False)
    first = Runtime(settings)
    try:
        published_design(first.marketplace, register_cast(first.marketplace), BENCH)
        first.projector.catch_up()
    finally:
        first.close()
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:  # the search index as an older version made it
        views.execute("DROP TABLE catalogue_search")
        views.execute("CREATE VIRTUAL TABLE catalogue_search USING fts5(title, description)")

    again = Runtime(settings)
    try:
        with again.database.reader.connect() as connection:
            found = again.view(CatalogueView).search_published(connection, fee_rate=Fraction(1, 10), q="steel")
            outdated = again.database.outdated(again.views_list)
    finally:
        again.close()

    assert [row["title"] for row in found.items] == [BENCH.title]
    assert outdated == []


def test_a_view_missing_a_table_this_version_adds_is_rebuilt_and_fills_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, embedded_projector=False)
    first = Runtime(settings)
    try:
        register_cast(first.marketplace)  # an area company serving Botkyrka among them
        first.projector.catch_up()
    finally:
        first.close()
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:
        views.execute("DROP TABLE catalogue_installer_areas")

    again = Runtime(settings)
    try:
        with again.database.reader.connect() as connection:
            installs = again.view(CatalogueView).installs_in(connection, "Botkyrka")
    finally:
        again.close()

    assert installs


def _with_payouts(tmp_path: Path) -> Settings:
    """A data folder whose views show an order's payouts (paid, delivered and installed)."""
    settings = Settings(data_dir=tmp_path, database_url=None, embedded_projector=False)
    first = Runtime(settings)
    try:
        app = first.marketplace
        cast = register_cast(app)
        order_id = place_and_pay(app, cast, [LineRequest(published_design(app, cast, BENCH), 2)])
        settle(app, cast, order_id)
        first.projector.catch_up()
    finally:
        first.close()
    return settings


def _count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:
        return int(views.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_view_made_by_another_version_of_its_code_is_rebuilt_on_start(tmp_path: Path) -> None:
    settings = _with_payouts(tmp_path)
    assert _count(tmp_path, "payouts_payouts") == 3
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:  # rows the same version would not have written
        views.execute("DELETE FROM payouts_payouts")
    Runtime(settings).close()
    assert _count(tmp_path, "payouts_payouts") == 0, "the same version: nothing is rebuilt"

    with sqlite3.connect(tmp_path / "views.sqlite3") as views:  # as the version before it left them
        views.execute("UPDATE payouts_tracking SET version = ?", (PayoutsView.version - 1,))
    again = Runtime(settings)
    try:
        with again.database.reader.connect() as connection:
            listed = again.view(PayoutsView).list(connection, limit=10).items
            assert again.view(PayoutsView).stored_version(connection) == PayoutsView.version
    finally:
        again.close()
    assert sorted(row["role"] for row in listed) == ["area_company", "designer", "workshop"]


def test_tracking_from_before_views_had_versions_counts_as_version_1(tmp_path: Path) -> None:
    settings = _with_payouts(tmp_path)
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:
        tracking = [name for (name,) in views.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_tracking'")]
        for table in tracking:
            views.execute(f"ALTER TABLE {table} DROP COLUMN version")
        views.execute("DELETE FROM payouts_payouts")  # version 2 now: rebuilt
        views.execute("DELETE FROM orders_lines")  # still version 1: left alone, not every view is rebuilt
    Runtime(settings).close()
    assert _count(tmp_path, "payouts_payouts") == 3 and _count(tmp_path, "orders_lines") == 0
    with sqlite3.connect(tmp_path / "views.sqlite3") as views:
        assert views.execute("SELECT version FROM orders_tracking").fetchone() == (1,)
        assert views.execute("SELECT version FROM payouts_tracking").fetchone() == (PayoutsView.version,)
