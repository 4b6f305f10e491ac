"""The catalogue: every design with its latest published revision, searchable and filterable.

Full-text search covers title, description, category and materials, with a
real index on each database: an FTS5 table on SQLite (its rowid is the
design's listing number) with the Porter stemmer, so English word forms meet
("benches" finds "bench"), and a generated ``tsvector`` column with a GIN
index on PostgreSQL that holds Swedish and English stems as well as the words
themselves ("bänkar" finds "bänk"). Every word is also matched as a prefix.
The municipality filter asks whether some workshop whose capabilities cover
the design serves that municipality, so the view keeps its own copy of each
workshop's capabilities and area; whether installation is available there
asks the same of area companies, whose areas it also copies.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.design import Design, Specification
from vardekedja.domain.organisation import Organisation, Role
from vardekedja.projections import catalogue_search
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first, newest_first_statement, newest_first_values, page_of
from vardekedja.storage.types import UtcDateTime

SPEC_COLUMNS = (
    "title", "description", "category", "materials", "required_capabilities", "width_mm", "depth_mm",
    "height_mm", "weight_kg", "lead_time_days", "licence", "royalty_ore", "production_fee_ore",
    "installation_fee_ore", "co2e_kg", "inspection_interval_months",
)  # fmt: skip

KEPT_SEARCHES = 256  # searches built, one per combination of filters used (and number of words, on PostgreSQL)
UNLISTED = frozenset({"draft", "draft_revision", "created_at", "updated_at", "published_at", "drafted"})


class CatalogueView(View):
    version = 2  # 2: drafts recorded before their specification was normalised by the command read as recorded

    def define(self) -> None:
        self.designs = sa.Table(
            self.table_name("designs"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("designer_id", sa.Uuid, nullable=False, index=True),
            sa.Column("status", sa.String, nullable=False, index=True),
            sa.Column("latest_revision", sa.Integer, nullable=False),
            sa.Column("draft_revision", sa.Integer, nullable=True),
            sa.Column("draft", sa.JSON, nullable=True),
            sa.Column("published_revision", sa.Integer, nullable=True),
            sa.Column("title", sa.String, nullable=True),
            sa.Column("description", sa.Text, nullable=True),
            sa.Column("category", sa.String, nullable=True, index=True),
            sa.Column("materials", sa.JSON, nullable=True),
            sa.Column("required_capabilities", sa.JSON, nullable=True),
            sa.Column("width_mm", sa.Integer, nullable=True),
            sa.Column("depth_mm", sa.Integer, nullable=True),
            sa.Column("height_mm", sa.Integer, nullable=True),
            sa.Column("weight_kg", sa.Float, nullable=True),
            sa.Column("lead_time_days", sa.Integer, nullable=True),
            sa.Column("licence", sa.String, nullable=True),
            sa.Column("royalty_ore", sa.BigInteger, nullable=True),
            sa.Column("production_fee_ore", sa.BigInteger, nullable=True),
            sa.Column("installation_fee_ore", sa.BigInteger, nullable=True),
            sa.Column("co2e_kg", sa.Float, nullable=True),
            sa.Column("inspection_interval_months", sa.Integer, nullable=True),
            # Royalty + production + installation: the part the platform fee is a rate of.
            sa.Column("price_base_ore", sa.BigInteger, nullable=True, index=True),
            # Set at the first publication; orders the catalogue (newest first) and keys the search index.
            sa.Column("listing", sa.BigInteger, nullable=True, unique=True),
            sa.Column("created_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.Column("published_at", UtcDateTime, nullable=True),
            # The position of the draft's first event: a designer's own list, newest first, pages by it.
            sa.Column("drafted", sa.BigInteger, nullable=False, unique=True),
        )
        self.materials = sa.Table(
            self.table_name("materials"),
            self.metadata,
            sa.Column("design_id", sa.Uuid, primary_key=True),
            sa.Column("material", sa.String, primary_key=True, index=True),
        )
        self.capabilities = sa.Table(
            self.table_name("capabilities"),
            self.metadata,
            sa.Column("design_id", sa.Uuid, primary_key=True),
            sa.Column("capability", sa.String, primary_key=True, index=True),
        )
        self.workshop_capabilities, self.workshop_areas = self.workshop_reach()
        # Pictures and production files of each revision (the files themselves are stored by hash).
        self.media = sa.Table(
            self.table_name("media"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("design_id", sa.Uuid, nullable=False, index=True),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("kind", sa.String, nullable=False),
            sa.Column("filename", sa.String, nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("bytes", sa.BigInteger, nullable=False),
            sa.Column("content_type", sa.String, nullable=False),
            sa.Column("variants", sa.JSON, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False),
        )
        self.installer_areas = sa.Table(
            self.table_name("installer_areas"),
            self.metadata,
            sa.Column("area_company_id", sa.Uuid, primary_key=True),
            sa.Column("municipality", sa.String, primary_key=True, index=True),
        )
        # SQLite's FTS5 table; declared apart because create_all cannot make it.
        self.search = sa.Table(
            self.table_name("search"),
            sa.MetaData(),
            sa.Column("rowid", sa.BigInteger, primary_key=True),
            sa.Column("title", sa.Text),
            sa.Column("description", sa.Text),
            sa.Column("category", sa.Text),
            sa.Column("materials", sa.Text),
        )

        # What a listing of published designs reads (not the open draft, JSON, nor the times of changes,
        # whose decoding cost more than the rest of a row), and its searches: built once each, since
        # building a statement and its cache key cost more than running it (see ``search_published``).
        self._searches: dict[tuple[Any, ...], sa.Select[Any]] = {}
        self.listed = sa.select(*(column for column in self.designs.columns if column.name not in UNLISTED))

    def extra_ddl(self, dialect: str) -> list[str]:
        return catalogue_search.ddl(self.designs.name, self.search.name, self.token, dialect)

    def extra_columns(self, dialect: str) -> dict[str, set[str]]:
        if dialect == "sqlite":
            return {self.search.name: set(catalogue_search.COLUMNS)}
        return {self.designs.name: {"words"}}

    def extra_tables(self, dialect: str) -> list[str]:
        return [self.search.name] if dialect == "sqlite" else []

    # Queries.

    def design(self, connection: Connection, design_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.designs.select().where(self.designs.c.id == design_id)).mappings().first()
        return dict(row) if row else None

    def designers_own(self, connection: Connection, designer_id: UUID, *, status: str | None = None,
                      limit: int = 20, cursor: str | None = None) -> Page:  # fmt: skip
        """A designer's designs, drafts and retired ones included, the most recently drafted first."""
        d = self.designs
        query = sa.select(d).where(d.c.designer_id == designer_id)
        if status is not None:
            query = query.where(d.c.status == status)
        return newest_first(connection, query, d.c.drafted, limit=limit, cursor=cursor)

    def installs_in(self, connection: Connection, municipality: str) -> bool:
        """Some area company serves the municipality, so a piece ordered there can be installed."""
        a = self.installer_areas
        return connection.execute(sa.select(a.c.area_company_id).where(a.c.municipality == _key(municipality))
                                  .limit(1)).first() is not None  # fmt: skip

    def search_published(
        self,
        connection: Connection,
        *,
        fee_rate: Fraction,
        q: str | None = None,
        category: str | None = None,
        material: str | None = None,
        capability: str | None = None,
        municipality: str | None = None,
        max_unit_price_ore: int | None = None,
        with_installation: bool = True,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        """Published designs, newest first, that fit every filter given.

        ``max_unit_price_ore`` bounds the unit price with installation, or without it when
        ``with_installation`` is false (the caller decides, from the municipality and what was asked).
        """
        terms = re.findall(r"\w+", q) if q else []
        dialect = connection.dialect.name
        values: dict[str, Any] = {**catalogue_search.term_values(dialect, terms), **newest_first_values(limit, cursor)}
        for name, value in (("category", category), ("material", material), ("capability", capability),
                            ("municipality", municipality)):  # fmt: skip
            if value:
                values[name] = _key(value)
        if max_unit_price_ore is not None:
            values["largest_base"] = catalogue_search.largest_base(max_unit_price_ore, fee_rate)
        shape = (dialect, len(terms), *(name in values for name in ("category", "material", "capability",
                 "municipality", "largest_base", "after")), with_installation)  # fmt: skip
        statement = self._searches.get(shape)
        if statement is None:
            statement = self._search(*shape)
            if len(self._searches) < KEPT_SEARCHES:
                self._searches[shape] = statement
        return page_of(connection.execute(statement, values).mappings().all(), limit, "listing")

    def _search(self, dialect: str, terms: int, category: bool, material: bool, capability: bool,
                municipality: bool, price: bool, after: bool, with_installation: bool) -> sa.Select[Any]:  # fmt: skip
        """The search for one combination of filters, their values left as parameters (see ``search_published``)."""
        d = self.designs
        query = self.listed.where(d.c.status == "published")
        if terms:
            query = query.where(catalogue_search.matches(d, self.search.name, dialect, terms))
        if category:
            query = query.where(d.c.category == sa.bindparam("category", type_=sa.String))
        for table, column, wanted in ((self.materials, "material", material),
                                      (self.capabilities, "capability", capability)):  # fmt: skip
            if wanted:
                value = sa.bindparam(column, type_=sa.String)
                query = query.where(sa.exists().where(table.c.design_id == d.c.id, table.c[column] == value))
        if municipality:
            query = query.where(self._made_in(sa.bindparam("municipality", type_=sa.String)))
        if price:
            base = d.c.price_base_ore if with_installation else d.c.price_base_ore - d.c.installation_fee_ore
            query = query.where(base <= sa.bindparam("largest_base", type_=sa.BigInteger))
        return newest_first_statement(query, d.c.listing, after=after)

    def able_workshops(self, connection: Connection, design_id: UUID, municipality: str) -> int:
        """How many workshops serving the municipality hold every capability the design needs."""
        area, needed, held = self.workshop_areas, self.capabilities, self.workshop_capabilities
        missing = sa.exists().where(
            needed.c.design_id == design_id,
            ~sa.exists()
            .where(held.c.workshop_id == area.c.workshop_id, held.c.capability == needed.c.capability)
            .correlate(area, needed),
        ).correlate(area)
        query = sa.select(sa.func.count()).select_from(area).where(area.c.municipality == _key(municipality), ~missing)
        return int(connection.execute(query).scalar_one())

    def designs_of(self, connection: Connection, designer_id: UUID) -> list[dict[str, Any]]:
        """A designer's designs, drafts included, most recently changed first."""
        d = self.designs
        query = sa.select(d).where(d.c.designer_id == designer_id).order_by(d.c.updated_at.desc())
        return [dict(row) for row in connection.execute(query).mappings()]

    def media_of(self, connection: Connection, design_id: UUID, revision: int | None,
                 kind: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """The files a revision has (its own and those of earlier revisions), in the order attached."""
        if revision is None:
            return []
        m = self.media
        query = sa.select(m).where(m.c.design_id == design_id, m.c.revision <= revision).order_by(m.c.position)
        if kind is not None:
            query = query.where(m.c.kind == kind)
        return [dict(row) for row in connection.execute(query).mappings()]

    def first_pictures(self, connection: Connection, revisions: dict[UUID, int]) -> dict[UUID, dict[str, Any]]:
        """Each design's first picture of the given revision (for catalogue cards), in one query."""
        if not revisions:
            return {}
        m = self.media
        query = (sa.select(m).where(m.c.design_id.in_(list(revisions)), m.c.kind == "picture")
                 .order_by(m.c.position))  # fmt: skip
        first: dict[UUID, dict[str, Any]] = {}
        for row in connection.execute(query).mappings():
            if row["design_id"] not in first and row["revision"] <= revisions[row["design_id"]]:
                first[row["design_id"]] = dict(row)
        return first

    def media_item(self, connection: Connection, design_id: UUID, media_id: UUID) -> dict[str, Any] | None:
        """One file with what deciding who may have it needs: its design's designer and published revision."""
        m, d = self.media, self.designs
        query = (sa.select(m, d.c.designer_id, d.c.published_revision).join(d, d.c.id == m.c.design_id)
                 .where(m.c.id == media_id, m.c.design_id == design_id))  # fmt: skip
        row = connection.execute(query).mappings().first()
        return dict(row) if row else None

    def facets(self, connection: Connection) -> dict[str, list[str]]:
        """What the catalogue's filters can choose from: the published designs' categories, materials and
        capabilities, and the municipalities some workshop serves (all as the view keeps them, normalised)."""
        d = self.designs
        published = sa.select(d.c.id).where(d.c.status == "published")

        def values(column: sa.ColumnElement[str], *where: sa.ColumnElement[bool]) -> list[str]:
            return list(connection.execute(sa.select(column).where(*where).distinct().order_by(column)).scalars())

        return {
            "category": values(d.c.category, d.c.status == "published"),
            "material": values(self.materials.c.material, self.materials.c.design_id.in_(published)),
            "capability": values(self.capabilities.c.capability, self.capabilities.c.design_id.in_(published)),
            "municipality": values(self.workshop_areas.c.municipality),
        }

    def _made_in(self, municipality: str | sa.BindParameter[str]) -> sa.ColumnElement[bool]:
        """Some workshop serving the municipality has every capability the design needs."""
        d, area, needed, held = self.designs, self.workshop_areas, self.capabilities, self.workshop_capabilities
        # Correlated by hand: automatic correlation only reaches the enclosing SELECT, and
        # these refer two levels out (left alone, each would get its own designs and areas).
        missing = sa.exists().where(
            needed.c.design_id == d.c.id,
            ~sa.exists()
            .where(held.c.workshop_id == area.c.workshop_id, held.c.capability == needed.c.capability)
            .correlate(area, needed),
        ).correlate(d, area)
        return sa.exists().where(area.c.municipality == municipality, ~missing)


def _key(value: str) -> str:
    return value.strip().casefold()


class CatalogueProjection(Projection):
    name = "catalogue"
    view_class = CatalogueView
    view: CatalogueView

    def prefetch(self, events: list[Any]) -> None:
        self.load(
            self.view.designs,
            {e.originator_id for e in events if isinstance(e, Design.Event) and not isinstance(e, Design.Drafted)},
        )

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Design.Drafted, position: int) -> None:
        self.insert(
            self.view.designs,
            id=domain_event.originator_id,
            designer_id=domain_event.designer_id,
            status="draft",
            latest_revision=1,
            draft_revision=1,
            draft=dict(domain_event.specification),
            published_revision=None,
            **{name: None for name in SPEC_COLUMNS},
            price_base_ore=None,
            listing=None,
            created_at=domain_event.timestamp,
            updated_at=domain_event.timestamp,
            published_at=None,
            drafted=position,
        )

    @process_event.register
    def _(self, domain_event: Design.Revised, position: int) -> None:
        self.update(
            self.view.designs,
            domain_event.originator_id,
            latest_revision=domain_event.revision,
            draft_revision=domain_event.revision,
            draft=dict(domain_event.specification),
            updated_at=domain_event.timestamp,
        )

    @process_event.register
    def _(self, domain_event: Design.Published, position: int) -> None:
        design = self.get(self.view.designs, domain_event.originator_id)
        if design is None or design["draft"] is None:
            return
        # The draft as its event recorded it (normalised by the command; version-1 events upcast so).
        spec = Specification.from_dict(design["draft"]).to_dict()
        old_materials, old_capabilities = design["materials"] or [], design["required_capabilities"] or []
        first = design["listing"] is None
        listing = position if first else design["listing"]
        self.update(
            self.view.designs,
            domain_event.originator_id,
            status="retired" if design["status"] == "retired" else "published",
            published_revision=domain_event.revision,
            draft_revision=None,
            draft=None,
            **{name: spec.get(name) for name in SPEC_COLUMNS},  # revisions from before a field lack it
            price_base_ore=spec["royalty_ore"] + spec["production_fee_ore"] + spec["installation_fee_ore"],
            listing=listing,
            updated_at=domain_event.timestamp,
            published_at=domain_event.timestamp,
        )
        self._replace_members(self.view.materials, "material", domain_event.originator_id, old_materials, spec["materials"])
        self._replace_members(
            self.view.capabilities, "capability", domain_event.originator_id, old_capabilities,
            spec["required_capabilities"],
        )  # fmt: skip
        if self.dialect != "sqlite":
            return  # PostgreSQL derives its search column from the row itself
        words = {"title": spec["title"], "description": spec["description"], "category": spec["category"],
                 "materials": " ".join(spec["materials"])}  # fmt: skip
        if first:
            self.insert(self.view.search, rowid=listing, **words)
        else:
            self.update(self.view.search, listing, **words)

    @process_event.register
    def _(self, domain_event: Design.Retired, position: int) -> None:
        self.update(self.view.designs, domain_event.originator_id, status="retired", updated_at=domain_event.timestamp)

    @process_event.register
    def _(self, domain_event: Design.MediaAttached, position: int) -> None:
        media = domain_event.media
        self.insert(
            self.view.media, id=UUID(media["id"]), design_id=domain_event.originator_id, revision=media["revision"],
            kind=media["kind"], filename=media["filename"], sha256=media["sha256"], bytes=media["bytes"],
            content_type=media["content_type"], variants=dict(media["variants"]), position=position,
        )  # fmt: skip

    @process_event.register
    def _(self, domain_event: Organisation.Registered, position: int) -> None:
        self.record_workshop_reach(domain_event, self.view.workshop_capabilities, self.view.workshop_areas)
        if domain_event.role == Role.AREA_COMPANY:
            for municipality in domain_event.service_area:
                self.insert(self.view.installer_areas, area_company_id=domain_event.originator_id,
                            municipality=municipality)  # fmt: skip

    def _replace_members(self, table: sa.Table, column: str, design_id: UUID, old: list[str], new: list[str]) -> None:
        old_set, new_set = set(old), set(new)
        for value in old_set - new_set:
            self.delete(table, (design_id, value))
        for value in new_set - old_set:
            self.insert(table, design_id=design_id, **{column: value})
