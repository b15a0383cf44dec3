"""Column lineage for identity: which stored columns copy which source columns unchanged.

A column *passes through* a source column when, along every path of its
lineage, each step is the column itself, renamed or cast (`id AS customer_id`,
`CAST(order_id AS BIGINT)`). Literal branches (`NULL` in a UNION) carry no
values and are ignored. Anything else (`md5(id)`, `id + 1`, `count(*)`) is
not a pass-through: the values differ, so the column is no key.

>>> sql = "SELECT o.id AS order_id, CAST(o.user_id AS BIGINT) AS customer_id, md5(o.id) AS h FROM raw.orders AS o"
>>> schema = {"raw": {"orders": {"id": "INT", "user_id": "INT"}}}
>>> trace_columns(sql, ["order_id", "customer_id", "h"], schema)
{'order_id': [('raw.orders', 'id')], 'customer_id': [('raw.orders', 'user_id')], 'h': None}
"""

from __future__ import annotations

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

Source = tuple[str, str]   # ("schema.table" lower-cased, column lower-cased)


class UntraceableSQL(ValueError):
    """The SQL cannot be parsed or qualified: its columns cannot be traced."""


def _unwrap(expression: exp.Expression) -> exp.Expression:
    while isinstance(expression, (exp.Alias, exp.Paren, exp.Cast, exp.TryCast)):
        expression = expression.this
    return expression


def _is_literal(expression: exp.Expression) -> bool:
    return isinstance(_unwrap(expression), (exp.Null, exp.Literal, exp.Boolean))


def _leaf(node: Node) -> Source:
    table = node.source if isinstance(node.source, exp.Table) else node.expression
    return (f"{table.db}.{table.name}".lower(), node.name.split(".")[-1].lower())


def pass_through(node: Node) -> list[Source] | None:
    """The source columns `node` copies unchanged, or None when some path transforms the values."""
    if isinstance(node.expression, exp.Table):
        return [_leaf(node)]
    if _is_literal(node.expression):
        return []
    if not isinstance(_unwrap(node.expression), exp.Column) or not node.downstream:
        return None   # transformed values, or a column whose source veil cannot see
    found: list[Source] = []
    for child in node.downstream:
        sources = pass_through(child)
        if sources is None:
            return None
        found += sources
    return sorted(set(found))


def trace_columns(sql: str | exp.Expression, columns: list[str], schema: dict, dialect: str = "duckdb"
                  ) -> dict[str, list[Source] | None]:
    """Per output column, the source columns it passes through (None: transformed or untraceable)."""
    try:
        statement = parse_one(sql, read=dialect) if isinstance(sql, str) else sql
    except SqlglotError as exc:
        raise UntraceableSQL(str(exc).splitlines()[0]) from None
    if not isinstance(statement, (exp.Query, exp.Select)):
        raise UntraceableSQL(f"not a query: {type(statement).__name__}")
    traced: dict[str, list[Source] | None] = {}
    for column in columns:
        try:
            traced[column] = pass_through(lineage(column, statement, schema=schema, dialect=dialect))
        except (SqlglotError, KeyError, ValueError, RecursionError, AttributeError):
            traced[column] = None
    return traced


def is_aggregate(sql: str | exp.Expression, dialect: str = "duckdb") -> bool:
    """The outermost query groups rows (GROUP BY or an aggregate function in its projection).

    >>> is_aggregate("SELECT country, count(*) FROM users GROUP BY 1"), is_aggregate("SELECT * FROM users")
    (True, False)
    """
    try:
        statement = parse_one(sql, read=dialect) if isinstance(sql, str) else sql
    except SqlglotError:
        return False
    selects = [statement] if isinstance(statement, exp.Select) else list(statement.find_all(exp.Select))
    outer = [s for s in selects if s.parent_select is None] if not isinstance(statement, exp.Select) else selects
    if not outer:
        return False
    for select in outer:
        grouped = select.args.get("group") is not None or any(
            projection.find(exp.AggFunc) and not projection.find(exp.Window) for projection in select.expressions)
        if not grouped:
            return False
    return True
