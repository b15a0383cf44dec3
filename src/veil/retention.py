"""`veil retention`: physically delete what retention says is gone.

For every policy table with a table retention, one `DELETE` removes the rows
older than it; for every table with expiring columns, one `UPDATE` sets each
expired value to NULL (the rows stay). Both run in one transaction per table,
on the warehouse's physical relation, with the same clock as the audience
models (`--as-of`, default now). Rows whose event time is NULL cannot be
aged: they are counted and left alone. Running it twice changes nothing the
second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from veil.compile.sql import count_where
from veil.policy.loaded import LoadedTable, Policies
from veil.relations import PhysicalRelations


@dataclass
class RetentionResult:
    """What retention did (or, in a dry run, would do) to one table."""

    table: str
    relation: str
    retention_days: int | None
    deleted_rows: int = 0
    nulled: dict[str, int] = field(default_factory=dict)   # column -> values set to NULL
    undated_rows: int = 0


def clock(as_of: str | None) -> exp.Expression:
    """The retention clock, as the views compute it."""
    now = exp.Literal.string(as_of) if as_of else exp.CurrentTimestamp()
    return exp.cast(now, exp.DataType.Type.TIMESTAMP)


def _older_than(event_time: str, days: int, as_of: str | None) -> exp.Expression:
    cutoff = exp.Sub(this=clock(as_of), expression=exp.Interval(this=exp.Literal.string(str(days)),
                                                               unit=exp.Var(this="DAY")))
    return exp.LT(this=exp.column(exp.to_identifier(event_time)), expression=cutoff)


def _expiring(table: LoadedTable) -> dict[str, int]:
    return {c.name: c.data_handling.retention_days for c in table.policy.columns if c.data_handling.retention_days}


def _count(con: duckdb.DuckDBPyConnection, target: exp.Expression, conditions: dict[str, exp.Expression]) -> dict[str, int]:
    sums = [count_where(cond, key) for key, cond in conditions.items()]
    row = con.execute(exp.select(*sums).from_(target).sql(dialect="duckdb")).fetchall()[0]
    return {key: int(value or 0) for key, value in zip(conditions, row)}


def apply_table(con: duckdb.DuckDBPyConnection, table: LoadedTable, days: int | None, target_sql: str,
                as_of: str | None, dry_run: bool) -> RetentionResult:
    """Delete expired rows and null expired columns of one table, in one transaction."""
    event_time = table.policy.event_time
    result = RetentionResult(table.name, target_sql, days)
    target = exp.to_table(target_sql, dialect="duckdb")
    expiring = _expiring(table)
    conditions: dict[str, exp.Expression] = {
        "undated": exp.Is(this=exp.column(exp.to_identifier(event_time)), expression=exp.Null())}
    if days:
        conditions["deleted"] = _older_than(event_time, days, as_of)
    for name, column_days in expiring.items():
        still_here = exp.Not(this=_older_than(event_time, days, as_of)) if days else exp.true()
        conditions[f"null:{name}"] = exp.and_(
            exp.Not(this=exp.Is(this=exp.column(exp.to_identifier(name)), expression=exp.Null())),
            _older_than(event_time, column_days, as_of), still_here)
    con.execute("BEGIN TRANSACTION")
    try:
        counts = _count(con, target, conditions)
        result.undated_rows = counts.pop("undated")
        result.deleted_rows = counts.pop("deleted", 0)
        result.nulled = {key.removeprefix("null:"): n for key, n in counts.items()}
        if not dry_run:
            if days and result.deleted_rows:
                con.execute(exp.delete(target, where=conditions["deleted"]).sql(dialect="duckdb"))
            if any(result.nulled.values()):
                con.execute(_null_statement(target, event_time, expiring, as_of).sql(dialect="duckdb"))
        con.execute("COMMIT" if not dry_run else "ROLLBACK")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _null_statement(target: exp.Expression, event_time: str, expiring: dict[str, int],
                    as_of: str | None) -> exp.Update:
    """One UPDATE nulling every expired column of the table."""
    assignments = {}
    expired_any = []
    for name, days in expiring.items():
        column = exp.column(exp.to_identifier(name))
        expired = _older_than(event_time, days, as_of)
        assignments[name] = exp.Case(ifs=[exp.If(this=expired, true=exp.Null())], default=column)
        expired_any.append(exp.and_(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())), expired.copy()))
    update = exp.Update(this=target.copy(), expressions=[
        exp.EQ(this=exp.column(exp.to_identifier(name)), expression=value) for name, value in assignments.items()])
    return update.where(exp.or_(*expired_any))


def apply_retention(policies: Policies, con: duckdb.DuckDBPyConnection, relations: PhysicalRelations,
                    as_of: str | None = None, dry_run: bool = False) -> list[RetentionResult]:
    """Apply retention to every policy table that has any."""
    results = []
    for table in policies.table_list():
        days = policies.retention_days(table)
        if not days and not _expiring(table):
            continue
        results.append(apply_table(con, table, days, relations.sql_name(table.relation), as_of, dry_run))
    return results


def format_results(results: list[RetentionResult], dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    null_verb = "would null" if dry_run else "nulled"
    lines = []
    for r in results:
        parts = []
        if r.retention_days:
            parts.append(f"{verb} {r.deleted_rows} rows older than {r.retention_days} days")
        parts += [f"{null_verb} {column} in {n} rows" for column, n in r.nulled.items()]
        if r.undated_rows:
            parts.append(f"kept {r.undated_rows} rows without an event time")
        lines.append(f"{r.table} ({r.relation}): " + "; ".join(parts))
    return "\n".join(lines) or "no policy table has a retention"
