"""What erasure does to one system, for all pending subjects at once.

Each action first counts the rows per subject (for the audit trail), then
changes the system with one statement built as a sqlglot tree: a semi-join
on the pending set through the table's identity columns, never a loop per
subject and never a match by column name. The pending subjects are the
relation `veil_pending(subject)` of canonical ids (see `veil.identity.keys`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil.compile.plan import ProjectPlan
from veil.erasure.physical import rewrite_database
from veil.erasure.systems import System, tokenize_rules
from veil.identity.graph import IdentityGraph, TableIdentity
from veil.identity.keys import (
    PENDING,
    count_by_subject,
    in_query,
    keys_of,
    pending_rows,
    values_by_subject,
)
from veil.identity.subjects import SubjectKind, is_integer_type, loaded_cell
from veil.policy.models import Classification
from veil.vault import Vault


@dataclass
class Context:
    plan: ProjectPlan
    warehouse: object                    # veil.warehouse.Warehouse
    graph: IdentityGraph
    keyring: object | None
    trail: object | None = None

    def register_pending(self, subjects: list[str]) -> None:
        self.warehouse.register_rows(PENDING, ["subject"], [(subject,) for subject in subjects])


def _add(counts: dict[str, int], subject: str, n: int) -> None:
    counts[subject] = counts.get(subject, 0) + n


def count_rows(context: Context, table: TableIdentity) -> dict[str, int]:
    counts: dict[str, int] = {}
    for subject, n in context.warehouse.execute(count_by_subject(context.graph, table)):
        _add(counts, subject, n)
    return counts


def _surrogate(sql_type: str) -> exp.Expression:
    """A random value of the column's type, drawn per row: nothing derived from the id, rows unlinkable."""
    if is_integer_type(sql_type):
        bound = 2**31 - 2 if sql_type.upper() in {"INTEGER", "INT", "INT4"} else 9 * 10**18
        return exp.Neg(this=exp.Paren(this=exp.Add(this=exp.Literal.number(1), expression=exp.cast(
            exp.Floor(this=exp.Mul(this=exp.Anonymous(this="random"), expression=exp.Literal.number(bound))),
            exp.DataType.build(sql_type, dialect="duckdb")))))
    uuid = exp.cast(exp.Uuid(), exp.DataType.Type.VARCHAR)   # uuid() on DuckDB, gen_random_uuid() on PostgreSQL
    if sql_type.upper() == "UUID":
        return exp.Uuid()
    return exp.DPipe(this=exp.Literal.string("anon_"), expression=uuid)


def _kept_columns(context: Context, table: TableIdentity) -> set[str]:
    """Columns left as they are by `anonymize`: those the policy classifies NON_PII.

    A base table under a view policy keeps the columns the view's NON_PII
    columns copy unchanged (column lineage); every other column is NULLed.
    """
    if table.policy is not None:
        return {c.name.lower() for c in table.policy.policy.columns if c.pii_classification is Classification.NON_PII}
    keep: set[str] = set()
    for view in context.graph.views_above(table):
        non_pii = {c.name for c in view.policy.policy.columns if c.pii_classification is Classification.NON_PII}
        keep |= context.graph.passed_through(view, non_pii).get(table.table.key, set())
    return keep


def _anonymize(context: Context, table: TableIdentity) -> exp.Update:
    """NULL every column that is not NON_PII; identity columns get a random surrogate per row."""
    keep = _kept_columns(context, table)
    identity = {c.lower() for c, _ in table.identities}
    assignments = []
    for lower, name in table.columns.items():
        if lower in identity:
            value = _surrogate(table.types[lower])
        elif lower in keep:
            continue
        else:
            value = exp.Null()
        assignments.append(exp.EQ(this=exp.column(name, quoted=True), expression=value))
    update = exp.Update(this=table.table.expression, expressions=assignments)
    return update.where(pending_rows(context.graph, table))


def erase_table(context: Context, system: System) -> None:
    table = system.identity
    if system.method == "anonymize":
        statement = _anonymize(context, table)
    else:
        statement = exp.delete(table.table.expression, where=pending_rows(context.graph, table))
    with context.warehouse.transaction():
        context.warehouse.execute(statement)


# -- the vault

def _raw_values(context: Context, subjects: list[str]) -> dict[str, list[tuple[str, int, str]]]:
    """Per subject, (value, keep_last, luhn) of tokenized columns still stored (entries made before binding)."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    for loaded, column, options in tokenize_rules(context.plan):
        where = context.graph.policy_tables.get(loaded.name)
        table = context.graph.tables.get(where.key) if where else None
        if table is None or not table.identities or column.lower() not in table.columns:
            continue
        query = values_by_subject(context.graph, table, table.columns[column.lower()])
        for who, value in context.warehouse.execute(query):
            found.setdefault(who, []).append((value, options.get("keep_last", 0), options.get("luhn", "invalid")))
    return found


def _vault(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    values = _raw_values(context, subjects)
    vault = Vault(Path(system.target), context.keyring, read_only=not apply)
    try:
        fingerprints = {who: [vault.fingerprint(*v) for v in vs] for who, vs in values.items()}
        counts = vault.count_owned(subjects)
        for who, n in vault.count_fingerprints(fingerprints, only_ownerless=True).items():
            counts[who] = counts.get(who, 0) + n
        if apply:
            vault.forget_subjects(subjects)
            vault.forget([fp for fps in fingerprints.values() for fp in fps], only_ownerless=True)
    finally:
        vault.close()
    if apply and counts:
        rewrite_database(Path(system.target))
    return counts


def _database_vault(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    """The vault the warehouse keeps (PostgreSQL): erased like the file vault, its tables compacted with the rest."""
    values = _raw_values(context, subjects)
    vault = context.warehouse.token_vault(context.keyring)
    fingerprints = {who: [vault.fingerprint(*v) for v in vs] for who, vs in values.items()}
    counts = vault.count_owned(subjects)
    for who, n in vault.count_fingerprints(fingerprints, only_ownerless=True).items():
        counts[who] = counts.get(who, 0) + n
    if apply:
        with context.warehouse.transaction():
            vault.forget_subjects(subjects)
            vault.forget([fp for fps in fingerprints.values() for fp in fps], only_ownerless=True)
    return counts


# -- files outside the warehouse

def domain_keys(context: Context, table: TableIdentity, subjects: list[str]) -> list[tuple[str, set[str], dict]]:
    """Per identity column of `table`: (column, its keys as text, key -> subject), from the warehouse as it is."""
    found = []
    for column, domain in table.identities:
        if domain.is_subject:
            found.append((column, set(subjects), {s: s for s in subjects}))
            continue
        owners = {key: subject for subject, key in context.warehouse.execute(keys_of(context.graph, domain))}
        found.append((column, set(owners), owners))
    return found


@dataclass(frozen=True)
class SeedCsv:
    """A seed's CSV as dbt reads it (its `delimiter`, a UTF-8 BOM), kept as written when rewritten."""

    path: Path
    delimiter: str
    bom: bool
    newline: str
    header: list[str]
    rows: list[list[str]]

    @classmethod
    def read(cls, path: Path, node: dict | None) -> SeedCsv:
        raw = path.read_bytes()
        delimiter = str(((node or {}).get("config") or {}).get("delimiter") or ",")
        text = raw.decode("utf-8-sig")
        reader = csv.reader(text.splitlines(), delimiter=delimiter)
        header = next(reader, [])
        return cls(path, delimiter, raw.startswith(b"\xef\xbb\xbf"), "\r\n" if b"\r\n" in raw else "\n",
                   header, list(reader))

    def index(self, column: str) -> int | None:
        return next((i for i, h in enumerate(self.header) if h.strip().lower() == column.lower()), None)

    def write(self, rows: list[list[str]]) -> None:
        handle, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        with os.fdopen(handle, "w", newline="", encoding="utf-8-sig" if self.bom else "utf-8") as out:
            writer = csv.writer(out, delimiter=self.delimiter, lineterminator=self.newline)
            writer.writerow(self.header)
            writer.writerows(rows)
        os.chmod(temp, self.path.stat().st_mode & 0o777)
        os.replace(temp, self.path)


def seed_csv_problem(system: System) -> str | None:
    """Why a seed file cannot be erased through its table's identity columns (None: it can)."""
    try:
        seed = SeedCsv.read(Path(system.target), system.identity.node)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read it as CSV: {exc}"
    missing = [c for c, _ in system.identity.identities if seed.index(c) is None]
    return (f"no column {', '.join(missing)} in its header, which the seed table {system.identity.name} has"
            if missing else None)


def _seed_file(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    table = system.identity
    seed = SeedCsv.read(Path(system.target), table.node)
    checks = []
    for column, keys, owners in domain_keys(context, table, subjects):
        kind = SubjectKind.INTEGER if is_integer_type(table.types.get(column.lower(), "")) else SubjectKind.TEXT
        checks.append((seed.index(column), kind, keys, owners))
    counts: dict[str, int] = {}
    kept = []
    for row in seed.rows:
        owner = None
        for index, kind, keys, owners in checks:
            cell = loaded_cell(row[index], kind) if index is not None and index < len(row) else None
            if cell is not None and cell in keys:
                owner = owners[cell]
                break
        if owner is None:
            kept.append(row)
        else:
            _add(counts, owner, 1)
    if apply and counts:
        seed.write(kept)
    return counts


def _published(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    """A published DuckDB file: each table is its model's copy, erased through the model's identity."""
    counts: dict[str, int] = {}
    with duckdb.connect(system.target, read_only=not apply) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_catalog = current_database()").fetchall()
        for schema, name in tables:
            model = next((t for t in context.graph.by_name(name) if t.status == "identified"), None)
            if model is None:
                continue
            target = exp.table_(exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True))
            present = {r[0].lower(): r[0] for r in con.execute(f"DESCRIBE {target.sql('duckdb')}").fetchall()}
            matches = []
            for position, (column, keys, owners) in enumerate(domain_keys(context, model, subjects)):
                if column.lower() not in present:
                    continue
                relation = f"veil_keys_{position}"
                con.register(relation, pa.table({"veil_key": pa.array(sorted(keys), pa.string()),
                                                 "veil_subject": pa.array([owners[k] for k in sorted(keys)],
                                                                          pa.string())}))
                reference = exp.cast(exp.column(present[column.lower()], quoted=True), exp.DataType.Type.VARCHAR)
                matches.append((reference, relation))
                query = exp.select(exp.column("veil_subject", table="k"), exp.Count(this=exp.Star())).from_(
                    target.copy()).join(exp.to_table(relation).as_("k"), on=exp.EQ(
                        this=reference.copy(), expression=exp.column("veil_key", table="k"))).group_by(
                    exp.column("veil_subject", table="k"))
                for who, n in con.execute(query.sql("duckdb")).fetchall():
                    _add(counts, who, n)
            if apply and matches:
                condition = exp.or_(*(in_query(ref, exp.select("veil_key").from_(rel)) for ref, rel in matches))
                con.execute(exp.delete(target, where=condition).sql("duckdb"))
    if apply and counts:
        rewrite_database(Path(system.target))
    return counts


def _database_vault(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    """The vault the warehouse keeps (PostgreSQL): erased like the file vault, its tables compacted with the rest."""
    values = _raw_values(context, subjects)
    vault = context.warehouse.token_vault(context.keyring)
    fingerprints = {who: [vault.fingerprint(*v) for v in vs] for who, vs in values.items()}
    counts = vault.count_owned(subjects)
    for who, n in vault.count_fingerprints(fingerprints, only_ownerless=True).items():
        counts[who] = counts.get(who, 0) + n
    if apply:
        with context.warehouse.transaction():
            vault.forget_subjects(subjects)
            vault.forget([fp for fps in fingerprints.values() for fp in fps], only_ownerless=True)
    return counts


def _access_export(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    from veil.erasure import files as veil_files

    return veil_files.erase_access_exports([Path(system.target)], subjects, apply)


def _snapshot(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    from veil.erasure import files as veil_files

    return veil_files.erase_snapshot(Path(system.target), subjects, apply, keyring=context.keyring,
                                     trail=context.trail)


def _temp_file(context: Context, system: System, subjects: list[str], apply: bool) -> dict[str, int]:
    from veil.erasure import files as veil_files

    return veil_files.remove_stale_temp_files([Path(system.target)], apply)


FILE_ACTIONS: dict[str, Callable[[Context, System, list[str], bool], dict[str, int]]] = {
    "vault": _vault, "database vault": _database_vault, "published file": _published, "seed file": _seed_file, "access export": _access_export,
    "snapshot": _snapshot, "temp file": _temp_file}


def erase_system(context: Context, system: System, subjects: list[str], apply: bool,
                 before_apply=lambda counts: None) -> dict[str, int]:
    """Rows per subject in the system; with `apply`, erase them (one statement for all subjects).

    `before_apply(counts)` runs between counting and erasing (the journal's `started` step).
    """
    if not system.stores_data or not subjects:
        before_apply({})
        return {}
    if system.kind in FILE_ACTIONS:
        counts = FILE_ACTIONS[system.kind](context, system, subjects, False)
        before_apply(counts)
        if apply and (counts or system.kind == "snapshot"):   # a snapshot erasure killed half-way is finished
            FILE_ACTIONS[system.kind](context, system, subjects, True)
        return counts
    counts = count_rows(context, system.identity)
    before_apply(counts)
    if apply and counts:
        erase_table(context, system)
    return counts
