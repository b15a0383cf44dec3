"""`veil retention`: physically delete what retention says is gone.

Physically: after the deletions and nullings commit, the warehouse makes
them physical (`Warehouse.compact`: DuckDB rewrites its file with only its
live rows, PostgreSQL runs `VACUUM FULL` on each changed table), so the
expired values leave the stored bytes, not just the visible rows; the vault
file is rewritten the same way when entries were forgotten. The statements
are sqlglot trees rendered by the warehouse, the same on either engine.

For every policy table with a table retention, one `DELETE` removes the rows
older than it; for every table with expiring columns, one `UPDATE` sets each
expired value to NULL (the rows stay). Both run in one transaction per table,
on the warehouse's physical relation, with the same clock as the audience
models (`--as-of`, default now). Rows whose event time is NULL cannot be
aged: they are counted and left alone. Running it twice changes nothing the
second time.

Given the token vault, the entries of tokenized values go with their rows:
before the change, the distinct values of each `tokenize`d column in the rows
deleted (or in the column nulled) are read; after it, those that no remaining
row of any tokenized source column holds are forgotten, by fingerprint, with
their owners. A value a young row still has keeps its token. A dry run counts
them and forgets nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlglot import exp

from veil.compile.plan import ProjectPlan, plan_project
from veil.compile.sql import count_where
from veil.erasure.systems import tokenize_rules
from veil.policy.loaded import LoadedTable, Policies
from veil.relations import PhysicalRelations
from veil.strategies.reversible import format_options
from veil.vault import Vault


@dataclass
class RetentionResult:
    """What retention did (or, in a dry run, would do) to one table."""

    table: str
    relation: str
    retention_days: int | None
    deleted_rows: int = 0
    nulled: dict[str, int] = field(default_factory=dict)   # column -> values set to NULL
    undated_rows: int = 0
    forgotten_tokens: int | None = None   # vault entries of values gone with the rows (None: no vault, none tokenized)


@dataclass(frozen=True)
class TokenizedColumn:
    """A source column the vault tokenizes, with every (keep_last, luhn) an audience tokenizes it with."""

    table: LoadedTable = field(compare=False, repr=False)
    target: str                    # the physical relation's SQL name
    column: str
    formats: tuple[tuple[int, str], ...]


def tokenized_columns(plan: ProjectPlan, relations: PhysicalRelations) -> list[TokenizedColumn]:
    """Every tokenized source column, once, sorted by table and column."""
    tables: dict[tuple[str, str], LoadedTable] = {}
    formats: dict[tuple[str, str], set[tuple[int, str]]] = {}
    for table, column, options in tokenize_rules(plan):
        tables[(table.name, column)] = table
        formats.setdefault((table.name, column), set()).add(format_options(options))
    return [TokenizedColumn(tables[key], relations.sql_name(tables[key].relation), key[1], tuple(sorted(formats[key])))
            for key in sorted(tables)]


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


def _count(warehouse, target: exp.Expression, conditions: dict[str, exp.Expression]) -> dict[str, int]:
    sums = [count_where(cond, key) for key, cond in conditions.items()]
    row = warehouse.execute(exp.select(*sums).from_(target.copy()))[0]
    return {key: int(value or 0) for key, value in zip(conditions, row)}


def _conditions(table: LoadedTable, days: int | None, as_of: str | None) -> dict[str, exp.Expression]:
    """The row conditions of one table: `undated`, `deleted` (past the table's retention) and
    `null:<column>` (the column expired in a row that stays)."""
    event_time = table.policy.event_time
    conditions: dict[str, exp.Expression] = {
        "undated": exp.Is(this=exp.column(exp.to_identifier(event_time)), expression=exp.Null())}
    if days:
        conditions["deleted"] = _older_than(event_time, days, as_of)
    for name, column_days in _expiring(table).items():
        still_here = exp.Not(this=_older_than(event_time, days, as_of)) if days else exp.true()
        conditions[f"null:{name}"] = exp.and_(
            exp.Not(this=exp.Is(this=exp.column(exp.to_identifier(name)), expression=exp.Null())),
            _older_than(event_time, column_days, as_of), still_here)
    return conditions


def _leaving(conditions: dict[str, exp.Expression], column: str) -> exp.Expression | None:
    """The rows whose value of `column` goes: the row is deleted or the column nulled (None: no row)."""
    parts = [conditions[key].copy() for key in ("deleted", f"null:{column}") if key in conditions]
    return exp.or_(*parts) if parts else None


def _as_text(column: str) -> exp.Expression:
    """The column as the tokenize function receives it."""
    return exp.cast(exp.column(exp.to_identifier(column)), exp.DataType.Type.VARCHAR)


def _distinct_values(warehouse, target: exp.Expression, column: str,
                     where: exp.Expression, params: Sequence[object] | None = None) -> set[str]:
    query = exp.select(_as_text(column)).distinct().from_(target.copy()).where(
        exp.and_(exp.Not(this=exp.Is(this=exp.column(exp.to_identifier(column)), expression=exp.Null())), where))
    return {value for (value,) in warehouse.execute(query, list(params) if params is not None else None)}


def apply_table(warehouse, table: LoadedTable, days: int | None, target_sql: str,
                as_of: str | None, dry_run: bool,
                tokenized: Sequence[str] = ()) -> tuple[RetentionResult, dict[str, set[str]]]:
    """Delete expired rows and null expired columns of one table, in one transaction.

    `warehouse`: the seam (or a bare DuckDB connection). Also returns, per
    column of `tokenized`, the distinct values (as text) that leave with the change.
    """
    from veil.warehouse import as_warehouse

    warehouse = as_warehouse(warehouse)
    event_time = table.policy.event_time
    result = RetentionResult(table.name, target_sql, days)
    target = exp.to_table(target_sql, dialect="duckdb")
    expiring = _expiring(table)
    conditions = _conditions(table, days, as_of)
    with warehouse.transaction():   # a dry run changes nothing: its commit is a rollback
        counts = _count(warehouse, target, conditions)
        result.undated_rows = counts.pop("undated")
        result.deleted_rows = counts.pop("deleted", 0)
        result.nulled = {key.removeprefix("null:"): n for key, n in counts.items()}
        leaving = {column: _distinct_values(warehouse, target, column, where) for column in tokenized
                   if (where := _leaving(conditions, column)) is not None}
        if not dry_run:
            if days and result.deleted_rows:
                warehouse.execute(exp.delete(target.copy(), where=conditions["deleted"]))
            if any(result.nulled.values()):
                warehouse.execute(_null_statement(target, event_time, expiring, as_of))
    return result, leaving


def forget_vanished(warehouse, vault: Vault, policies: Policies,
                    columns: list[TokenizedColumn], vanished: dict[str, dict[str, set[str]]],
                    as_of: str | None, dry_run: bool) -> dict[str, int]:
    """Forget the vault entries of the `vanished` values (table -> column -> values) that no
    remaining row of a tokenized column holds; per table, how many (would) go.

    After the change the remaining rows are simply what is there; in a dry run (nothing changed)
    they are the rows the change would keep.
    """
    formats = {(c.table.name, c.column): c.formats for c in columns}
    gone: dict[str, str] = {}    # fingerprint -> the first table whose retention removes it
    for table_name, by_column in vanished.items():
        for column, values in by_column.items():
            for value in sorted(values):
                for keep_last, luhn in formats[(table_name, column)]:
                    gone.setdefault(vault.fingerprint(value, keep_last, luhn), table_name)
    if not gone:
        return {}
    values = sorted({v for by_column in vanished.values() for vs in by_column.values() for v in vs})
    for c in columns:
        where: exp.Expression = exp.In(this=_as_text(c.column), query=exp.select(
            exp.Unnest(expressions=[exp.Placeholder()])).subquery())
        days = policies.retention_days(c.table)
        leaving = _leaving(_conditions(c.table, days, as_of), c.column) if dry_run else None
        if leaving is not None:
            where = exp.and_(where, exp.Not(this=exp.func("coalesce", leaving, exp.false())))
        for value in _distinct_values(warehouse, exp.to_table(c.target, dialect="duckdb"), c.column, where, [values]):
            for keep_last, luhn in c.formats:
                gone.pop(vault.fingerprint(value, keep_last, luhn), None)
    by_table: dict[str, list[str]] = {}
    for fingerprint, table_name in sorted(gone.items()):
        by_table.setdefault(table_name, []).append(fingerprint)
    counts = vault.count_fingerprints(by_table)
    if not dry_run:
        vault.forget(sorted(gone))
    return counts


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


def apply_retention(policies: Policies, warehouse, relations: PhysicalRelations | None = None,
                    as_of: str | None = None, dry_run: bool = False, *, vault: Vault | None = None,
                    plan: ProjectPlan | None = None,
                    targets: dict[str, list[tuple[str, LoadedTable, dict[str, str]]]] | None = None
                    ) -> list[RetentionResult]:
    """Apply retention to every policy table that has any; with `vault`, forget the tokens of
    values that left (`plan`: the project's plan, computed when not given).

    `targets`: per policy table, where its rows are stored when that is not its
    relation (a policy over a view: the base tables), as (SQL name, the policy
    with the base's column names, policy column -> base column). `warehouse`:
    the seam, or a bare DuckDB connection with its `relations`.
    """
    from veil.warehouse import as_warehouse

    warehouse = as_warehouse(warehouse, relations)
    relations = warehouse.relations
    columns = tokenized_columns(plan or plan_project(policies), relations) if vault is not None else []
    results = []
    vanished: dict[str, dict[str, set[str]]] = {}
    for table in policies.table_list():
        days = policies.retention_days(table)
        if not days and not _expiring(table):
            continue
        tokenized = [c.column for c in columns if c.table.name == table.name]
        stored = (targets or {}).get(table.name) or [(relations.sql_name(table.relation), table, {})]
        for target, policy, renamed in stored:
            result, gone = apply_table(warehouse, policy, days, target, as_of, dry_run,
                                       [renamed.get(c.lower(), c) for c in tokenized])
            back = {base: column for column, base in renamed.items()}
            for column, values in gone.items():
                vanished.setdefault(table.name, {}).setdefault(back.get(column.lower(), column), set()).update(values)
            results.append(replace(result, nulled={back.get(k.lower(), k): v for k, v in result.nulled.items()}))
    if vault is not None and columns:
        forgotten = forget_vanished(warehouse, vault, policies, columns, vanished, as_of, dry_run)
        tokenizing = {c.table.name for c in columns}
        for result in results:
            if result.table in tokenizing:
                result.forgotten_tokens = forgotten.get(result.table, 0)
    return results


def format_results(results: list[RetentionResult], dry_run: bool) -> str:
    """One line per table.

    >>> print(format_results([RetentionResult("cards", "raw.cards", 30, 3, forgotten_tokens=2)], dry_run=True))
    cards (raw.cards): would delete 3 rows older than 30 days; would forget 2 vault entries
    """
    verb = "would delete" if dry_run else "deleted"
    null_verb = "would null" if dry_run else "nulled"
    forget_verb = "would forget" if dry_run else "forgot"
    lines = []
    for r in results:
        parts = []
        if r.retention_days:
            parts.append(f"{verb} {r.deleted_rows} rows older than {r.retention_days} days")
        parts += [f"{null_verb} {column} in {n} rows" for column, n in r.nulled.items()]
        if r.undated_rows:
            parts.append(f"kept {r.undated_rows} rows without an event time")
        if r.forgotten_tokens is not None:
            parts.append(f"{forget_verb} {r.forgotten_tokens} vault entries")
        lines.append(f"{r.table} ({r.relation}): " + "; ".join(parts))
    return "\n".join(lines) or "no policy table has a retention"


def run_retention(project, *, as_of: str | None = None, dry_run: bool = False) -> list[RetentionResult]:
    """Apply retention to the project's warehouse and vault, then make it physical.

    A dry run opens the warehouse read-only and leaves the vault closed (opening
    it may write), so it counts rows and values but no vault entries.
    """
    from veil.erasure.physical import rewrite_database

    file_vault = not dry_run and project.vault_path.is_file()
    vault = Vault(project.vault_path, project.keyring()) if file_vault else None
    try:
        with project.warehouse(read_only=dry_run) as warehouse:
            from veil.identity import build_identity_graph

            if not dry_run and vault is None and warehouse.vault_name() is not None:
                vault = warehouse.token_vault(project.keyring())   # PostgreSQL: the vault is in the database
            graph = build_identity_graph(project.policies, project.manifest, warehouse, project.compiled_sql)
            results = apply_retention(project.policies, warehouse, as_of=as_of,
                                      dry_run=dry_run, vault=vault, plan=project.plan,
                                      targets=view_targets(project.policies, graph))
            forgot = any(r.forgotten_tokens for r in results)
            if not dry_run and any(r.deleted_rows or any(r.nulled.values()) for r in results):
                warehouse.compact()
            if forgot and not file_vault:
                warehouse.compact(warehouse.vault_tables())
    finally:
        if vault is not None:
            vault.close()
    if file_vault and any(r.forgotten_tokens for r in results):
        rewrite_database(project.vault_path)
    return results


def view_targets(policies: Policies, graph) -> dict[str, list[tuple[str, LoadedTable, dict[str, str]]]]:
    """For each policy over a view with a retention: the stored tables its rows live in, with column names.

    A base table qualifies when the view copies its event time unchanged (column
    lineage); each expiring column must map too. Otherwise retention cannot be
    made true in storage, which is a UsageError naming the policy.
    """
    from veil.errors import UsageError

    targets = {}
    for loaded in policies.table_list():
        holder = graph.tables.get(graph.policy_tables[loaded.name].key)
        policy = loaded.policy
        if holder is None or holder.kind != "view" or not (policies.retention_days(loaded) or _expiring(loaded)):
            continue
        wanted = [policy.event_time, *_expiring(loaded)]
        found = []
        for base in graph.stored_bases(holder):
            renamed = {}
            for column in wanted:
                sources = graph.passed_through(holder, {column}).get(base.table.key, set())
                if len(sources) == 1:
                    renamed[column.lower()] = base.columns.get(next(iter(sources)), next(iter(sources)))
            if policy.event_time.lower() not in renamed:
                continue
            missing = [c for c in wanted if c.lower() not in renamed]
            if missing:
                raise UsageError(f"{loaded.path}: retention of {', '.join(missing)} over the view {holder.name}: "
                                 f"veil cannot trace it to a column of {base.name}")
            columns = [c.model_copy(update={"name": renamed[c.name.lower()]}) for c in policy.columns
                       if c.name.lower() in renamed]
            adjusted = policy.model_copy(update={"event_time": renamed[policy.event_time.lower()], "columns": columns})
            found.append((base.table.sql_name, LoadedTable(adjusted, loaded.path, loaded.doc), renamed))
        if not found:
            raise UsageError(f"{loaded.path}: retention over the view {holder.name}: veil cannot trace its event_time "
                             f"{policy.event_time!r} to a stored table; declare the retention on the base table's policy")
        targets[loaded.name] = found
    return targets
