"""VL001 select-star."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from veil.lint.expand import PATTERNS
from veil.lint.lineage import field_of, node_offset
from veil.lint.rules.base import RawFinding, Statement, rule


def _is_star(node: exp.Expression) -> bool:
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))


def star_likes(select: exp.Select) -> Iterator[tuple[exp.Expression, str | None]]:
    """Each construct in the projections that stands for columns unnamed, and the alias it reads (None: all).

    `*`, `t.*`, `* EXCLUDE`, `* LIKE 'p'` (ILIKE, GLOB, SIMILAR TO), `COLUMNS(...)`
    anywhere in a projection (`max(COLUMNS(*))`) and `t.*` inside an
    expression (`struct_pack(t.*)`). `count(*)` is not one.
    """
    for projection in select.expressions:
        inner = projection.unalias()
        if _is_star(inner) or (isinstance(inner, PATTERNS) and _is_star(inner.this)):
            star = inner.this if isinstance(inner, PATTERNS) else inner
            yield inner, star.table if isinstance(star, exp.Column) else None
            continue
        for node in inner.find_all(exp.Columns, exp.Column):
            if isinstance(node, exp.Columns):
                argument = node.this
                yield node, argument.table if isinstance(argument, exp.Column) and _is_star(argument) else None
            elif isinstance(node.this, exp.Star) and node.find_ancestor(exp.Columns) is None:
                yield node, node.table


def _whole_rows(scope: Scope, statement: Statement) -> Iterator[exp.Column]:
    """Bare table aliases in the projections (`select u from users u`, `to_json(u)`): whole rows."""
    for projection in scope.expression.expressions:
        for column in projection.find_all(exp.Column):
            if column.table or isinstance(column.this, exp.Star) or column.name not in scope.sources:
                continue
            if column.find_ancestor(exp.Select) is not scope.expression or field_of(column) is not None:
                continue   # `(u).email` reads one field
            if not any(_has_column(source, column.name, statement) for source in scope.sources.values()):
                yield column


def _has_column(source: exp.Expression | Scope, name: str, statement: Statement) -> bool:
    if isinstance(source, Scope):
        names = _names(source)
        return names is None or name.lower() in names
    if isinstance(source, exp.Table):
        entry = statement.catalog.lookup([p for p in (source.catalog, source.db, source.name) if p])
        return entry is not None and name.lower() in entry.columns
    return True


def _names(scope: Scope) -> set[str] | None:
    """Explicit output names of a scope, None when a star hides them."""
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        return _names(scope.set_operation_scopes[0]) if scope.set_operation_scopes else None
    if not isinstance(expression, exp.Select) or any(True for _ in star_likes(expression)):
        return None
    return {projection.alias_or_name.lower() for projection in expression.expressions}


class _Explicit:
    """Whether a CTE or derived table names every column it returns, down to the tables it reads."""

    def __init__(self) -> None:
        self.memo: dict[int, bool] = {}

    def scope(self, scope: Scope) -> bool:
        key = id(scope)
        if key not in self.memo:
            self.memo[key] = False   # a cycle is not explicit
            expression = scope.expression
            if isinstance(expression, exp.SetOperation):
                self.memo[key] = all(self.scope(branch) for branch in scope.set_operation_scopes)
            elif isinstance(expression, exp.Select):
                self.memo[key] = all(self.reads_explicit(scope, alias) for _, alias in star_likes(expression))
        return self.memo[key]

    def reads_explicit(self, scope: Scope, alias: str | None) -> bool:
        """A star over these sources hides nothing: every one is a CTE or derived table with named columns."""
        sources = [scope.sources.get(alias)] if alias else [s for _, s in scope.selected_sources.values()]
        return bool(sources) and all(isinstance(s, Scope) and self.scope(s) for s in sources)


def _offset(node: exp.Expression, select: exp.Select) -> int | None:
    """Where the construct was written; a star nobody wrote (`TABLE t`) is reported at its table."""
    if any("start" in n.meta for n in node.walk()):
        return node_offset(node)
    source = select.args.get("from_")
    return node_offset(source.this) if source is not None else node_offset(node)


@rule("VL001", "select-star")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A projection selects columns without naming them: they arrive unseen.

    Data minimization: a query should name the columns it needs, so a new
    column (a new PII field) never flows downstream without a decision.
    Flagged at any depth (CTEs, subqueries), in every spelling: `*`, `t.*`,
    `* EXCLUDE (...)`, `* LIKE 'p'`, `COLUMNS(...)` (also inside an aggregate),
    `t.*` in an expression, a whole row (`select u from users u`,
    `to_json(u)`), DuckDB's `FROM t` and `TABLE t`. Not flagged:
    `count(*)`, `EXISTS (SELECT * ...)` (no column is read), and by default
    the dbt idiom `select * from final` over a CTE or derived table whose
    columns are named in the same query; `strict_select_star = true` in
    `[tool.veil.lint]` flags those too.

    Anti-pattern:

        select * from analyst__users

    Best practice:

        select user_id, country, created_at from analyst__users
    """
    strict = statement.config.strict_select_star
    explicit = _Explicit()
    scopes = statement.index.scopes   # none when sqlglot cannot scope it: then every SELECT, strictly
    selects = [(s.expression, s) for s in scopes if isinstance(s.expression, exp.Select)] or [
        (select, None) for select in statement.index.nodes(exp.Select)]
    any_star = bool(statement.index.nodes(exp.Star, exp.Columns))
    bare = {c.name for c in statement.index.nodes(exp.Column) if not c.table}
    any_row = any(bare.intersection(scope.sources) for _, scope in selects if scope is not None)
    for select, scope in selects:
        if isinstance(select.parent, exp.Exists) or (
                isinstance(select.parent, exp.Subquery) and isinstance(select.parent.parent, exp.Exists)):
            continue
        for node, alias in star_likes(select) if any_star else ():
            if not strict and scope is not None and explicit.reads_explicit(scope, alias):
                continue
            written = node.sql(dialect="duckdb")
            yield RawFinding(_offset(node, select), f"`{written}` in a projection: name the columns you need")
        if scope is not None and any_row:
            for column in _whole_rows(scope, statement):
                yield RawFinding(node_offset(column), f"`{column.sql(dialect='duckdb')}` reads the whole row "
                                 "of a table: name the columns you need")
