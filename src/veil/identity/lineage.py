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
from sqlglot.optimizer.scope import Scope, build_scope

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


def _grouped(scope: Scope, depth: int = 0) -> bool:
    """Rows of this scope are groups: it groups, or every relation it reads is grouped."""
    if depth > 200:
        return False
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        return all(_grouped(branch, depth + 1) for branch in scope.union_scopes)
    if not isinstance(expression, exp.Select):
        return False
    if expression.args.get("group") is not None or any(
            p.find(exp.AggFunc) and not p.find(exp.Window) for p in expression.expressions):
        return True
    sources = [source for _, source in scope.selected_sources.values()]
    return bool(sources) and all(isinstance(s, Scope) and _grouped(s, depth + 1) for s in sources)


def is_aggregate(sql: str | exp.Expression, dialect: str = "duckdb") -> bool:
    """The query's rows are groups: it, or every relation it reads, aggregates (GROUP BY, sum(...)).

    >>> is_aggregate("SELECT country, count(*) FROM users GROUP BY 1"), is_aggregate("SELECT * FROM users")
    (True, False)
    >>> is_aggregate("WITH d AS (SELECT day, sum(x) AS s FROM t GROUP BY 1) SELECT coalesce(s, 0) AS s FROM d")
    True
    >>> is_aggregate("WITH d AS (SELECT day, sum(x) AS s FROM t GROUP BY 1) SELECT t.id FROM d JOIN t USING (day)")
    False
    """
    try:
        statement = parse_one(sql, read=dialect) if isinstance(sql, str) else sql
        scope = build_scope(statement)
    except (SqlglotError, RecursionError):
        return False
    return scope is not None and _grouped(scope)
