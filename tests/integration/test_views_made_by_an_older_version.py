"""A views database made by an older version (a table without a column this one declares) is rebuilt at start."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

from tests.chain import BENCH, published_design, register_cast
from vardekedja.projections.catalogue import CatalogueView
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
