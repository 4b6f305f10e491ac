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


def matches(designs: sa.Table, search: str, dialect: str, count: int) -> sa.ColumnElement[bool]:
    """The design matches each of ``count`` terms, given as ``term_values`` (the FTS5 rowid is the listing number)."""
    if dialect == "sqlite":
        matching = sa.text(f"SELECT rowid FROM {search} WHERE {search} MATCH :terms")
        return designs.c.listing.in_(matching.columns(rowid=sa.BigInteger))
    words = sa.literal_column(f"{designs.name}.words")
    found = []
    for number in range(count):
        term = sa.bindparam(f"term_{number}", type_=sa.String)
        forms = [sa.func.to_tsquery(config, term) for config in ("simple", "swedish", "english")]
        found.append(words.op("@@")(forms[0].op("||")(forms[1]).op("||")(forms[2])))
    return sa.and_(*found)


def term_values(dialect: str, terms: list[str]) -> dict[str, str]:
    """The values ``matches`` takes for these terms: every term matched as a prefix."""
    if not terms:
        return {}
    if dialect == "sqlite":
        return {"terms": " ".join(f'"{term}"*' for term in terms)}
    return {f"term_{number}": f"{term}:*" for number, term in enumerate(terms)}


def largest_base(max_unit_price_ore: int, fee_rate: Fraction) -> int:
    """The largest base whose unit price (base + fee rounded half-up) stays within the maximum.

    The unit price only grows with the base, and the base at the maximum divided by
    (1 + rate) is within one öre of the edge, so a step or two from there finds it
    exactly (a binary search over the whole range took some 40 steps of exact fractions).
    """
    if max_unit_price_ore < 0:
        return -1

    def price(base: int) -> int:
        return base + round_half_up(base * fee_rate)

    base = max_unit_price_ore * fee_rate.denominator // (fee_rate.denominator + fee_rate.numerator)
    while base < max_unit_price_ore and price(base + 1) <= max_unit_price_ore:
        base += 1
    while base >= 0 and price(base) > max_unit_price_ore:
        base -= 1
    return base
