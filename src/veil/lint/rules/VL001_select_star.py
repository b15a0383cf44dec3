"""VL001 select-star."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from veil.lint.lineage import node_offset
from veil.lint.rules.base import RawFinding, Statement, rule


def _stars(select: exp.Select) -> Iterator[exp.Expression]:
    for projection in select.expressions:
        if isinstance(projection, exp.Star):
            yield projection
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            yield projection


@rule("VL001", "select-star")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A projection selects `*`, `t.*` or `* EXCLUDE (...)`: columns arrive unseen.

    Data minimization: a query should name the columns it needs, so a new
    column (a new PII field) never flows downstream without a decision.
    Flagged at any depth (CTEs, subqueries); `count(*)` is fine.

    Anti-pattern:

        select * from analyst__users

    Best practice:

        select user_id, country, created_at from analyst__users
    """
    for select in statement.original.find_all(exp.Select):
        for star in _stars(select):
            written = star.sql(dialect="duckdb")
            yield RawFinding(node_offset(star), f"`{written}` in a projection: name the columns you need")
