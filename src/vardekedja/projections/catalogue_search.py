"""The catalogue's full-text search on each database, and the price bound its filter uses.

SQLite: an FTS5 table over title, description, category and materials with the
Porter stemmer, so English word forms meet ("benches" finds "bench"). PostgreSQL:
a generated ``tsvector`` column (``words``) with a GIN index that holds the words
and their Swedish and English stems ("bänkar" finds "bänk"). Every word is also
matched as a prefix, and every word of a query must match.
"""

from __future__ import annotations

from fractions import Fraction

import sqlalchemy as sa

from vardekedja.domain.money import round_half_up

COLUMNS = ("title", "description", "category", "materials")
_TEXT = ("coalesce(title, '') || ' ' || coalesce(description, '') || ' ' || coalesce(category, '') || ' ' "
         "|| coalesce(materials::text, '')")  # fmt: skip


def ddl(designs: str, search: str, token: str, dialect: str) -> list[str]:
    """What makes the index: the FTS5 table ``search`` on SQLite, the ``words`` column on ``designs`` else."""
    if dialect == "sqlite":
        return [f"CREATE VIRTUAL TABLE IF NOT EXISTS {search} USING fts5("
                f"{', '.join(COLUMNS)}, tokenize = 'porter unicode61 remove_diacritics 2')"]  # fmt: skip
    return [
        f"ALTER TABLE {designs} ADD COLUMN IF NOT EXISTS words tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('simple', {_TEXT}) || to_tsvector('swedish', {_TEXT}) || to_tsvector('english', {_TEXT})) "
        "STORED",
        f"CREATE INDEX IF NOT EXISTS ix_{designs}_words_{token} ON {designs} USING gin (words)",
    ]


def matches(designs: sa.Table, search: str, dialect: str, terms: list[str]) -> sa.ColumnElement[bool]:
    """The design matches every term (the FTS5 rowid is the design's listing number)."""
    if dialect == "sqlite":
        expression = " ".join(f'"{term}"*' for term in terms)
        matching = sa.text(f"SELECT rowid FROM {search} WHERE {search} MATCH :terms")
        return designs.c.listing.in_(matching.bindparams(terms=expression).columns(rowid=sa.BigInteger))
    words = sa.literal_column(f"{designs.name}.words")
    found = []
    for term in terms:
        forms = [sa.func.to_tsquery(config, f"{term}:*") for config in ("simple", "swedish", "english")]
        found.append(words.op("@@")(forms[0].op("||")(forms[1]).op("||")(forms[2])))
    return sa.and_(*found)


def largest_base(max_unit_price_ore: int, fee_rate: Fraction) -> int:
    """The largest base whose unit price (base + fee rounded half-up) stays within the maximum.

    The unit price only grows with the base, so a binary search finds the edge exactly.
    """
    low, high = -1, max(max_unit_price_ore, -1)
    while low < high:
        middle = (low + high + 1) // 2
        if middle + round_half_up(middle * fee_rate) <= max_unit_price_ore:
            low = middle
        else:
            high = middle - 1
    return low
