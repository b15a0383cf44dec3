"""VL901 unanalysable-statement."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from veil.lint.rules.base import RawFinding, Statement, rule
from veil.lint.written import Written

SAFE = (exp.Drop, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Describe, exp.Pragma)
SQL_IN_STRINGS = {"query", "query_table"}


def _start(tree: exp.Expression) -> int | None:
    starts = [node.meta["start"] for node in tree.walk() if "start" in node.meta]
    return min(starts) if starts else None


def unanalysable(tree: exp.Expression, written: Written | None = None) -> str | None:
    """Why the tracer cannot see what this statement reads, or None when it can (or it reads nothing).

    >>> import sqlglot
    >>> unanalysable(sqlglot.parse_one("insert into t select a from u", read="duckdb")) is None
    True
    >>> unanalysable(sqlglot.parse_one("merge into t using u on t.a = u.a when matched then delete", read="duckdb"))
    'MERGE statements are not traced: what they read is not checked'
    """
    if isinstance(tree, exp.Command):
        return f"{str(tree.this).upper()} ... is not parsed into a tree veil can trace"
    written = written or Written(tree)
    for function in written.nodes(exp.Anonymous, exp.Func):
        if function.name.lower() in SQL_IN_STRINGS:
            return f"{function.name}(...) runs SQL from a string, which veil cannot trace"
    if written.nodes(exp.Pivot) and not isinstance(tree, exp.Pivot):
        return "PIVOT / UNPIVOT is not traced: the columns it reads and makes are not checked"
    if isinstance(tree, exp.Query) or isinstance(tree, SAFE):
        return None
    if isinstance(tree, (exp.Create, exp.Insert)) and isinstance(tree.expression, exp.Query):
        return None   # CREATE ... AS query, INSERT ... SELECT: the query is traced
    if isinstance(tree, exp.Create) and tree.expression is None:
        return None   # DDL: CREATE TABLE t (a INT), CREATE SCHEMA s
    if isinstance(tree, exp.Copy) and isinstance(tree.this, (exp.Subquery, exp.Query)):
        return None
    return _reads(tree)


def _target(tree: exp.Expression) -> exp.Expression | None:
    """The table an INSERT writes into, or the macro a CREATE defines (not a read)."""
    target = tree.this if isinstance(tree, (exp.Insert, exp.Create)) else None
    return target.this if isinstance(target, (exp.Schema, exp.UserDefinedFunction)) else target


def _reads(tree: exp.Expression) -> str | None:
    target = _target(tree)
    if not any(node is not target for node in tree.find_all(exp.Table, exp.Select)):
        return None   # `SET threads = 4`, `INSERT INTO t VALUES (1)`: reads no relation
    kind = {exp.Pivot: "PIVOT / UNPIVOT", exp.Set: "SET ... = (query)"}.get(type(tree), type(tree).__name__.upper())
    return f"{kind} statements are not traced: what they read is not checked"


@rule("VL901", "unanalysable-statement")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A statement the tracer cannot analyse (fail closed): never a silent pass.

    veil traces queries (and the query of CREATE ... AS, INSERT ... SELECT,
    COPY (query) TO). UPDATE ... FROM, DELETE ... USING, MERGE, COPY t TO,
    PIVOT / UNPIVOT and SUMMARIZE statements, SET VARIABLE x = (query),
    PREPARE, and SQL inside `query('...')` strings read data the tracer does
    not follow, so they are findings until rewritten as a traced query.

    Anti-pattern:

        copy raw.users to 'users.csv'

    Best practice:

        copy (select user_id, country from analyst__users) to 'users.csv'
    """
    reason = unanalysable(statement.original, statement.index)
    if reason:
        yield RawFinding(_start(statement.original), reason)
