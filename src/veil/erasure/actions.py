"""What erasure does to one system, for all pending subjects at once.

Each action first counts the rows per subject (for the audit trail), then
changes the system with one statement: a semi-join on the pending set, never
a loop per subject. Subject ids travel as text and are cast once, on the
pending side, to the column's type, so the big table is scanned as it is.
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from veil.compile.plan import ProjectPlan
from veil.erasure.physical import rewrite_database
from veil.erasure.systems import System, tokenize_rules
from veil.policy.models import Classification
from veil.relations import PhysicalRelations
from veil.vault import Vault


@dataclass
class Context:
    plan: ProjectPlan
    con: duckdb.DuckDBPyConnection        # the warehouse
    relations: PhysicalRelations
    keyring: object | None


def _column_type(con: duckdb.DuckDBPyConnection, target: str, column: str) -> str:
    for name, sql_type, *_ in con.execute(f"DESCRIBE {target}").fetchall():
        if name.lower() == column.lower():
            return sql_type
    raise KeyError(column)


def _pending(con: duckdb.DuckDBPyConnection, target: str, column: str) -> str:
    """`"col" IN (<pending subjects cast to the column's type>)`; the list is parameter $subjects."""
    return f'"{column}" IN (SELECT TRY_CAST(s AS {_column_type(con, target, column)}) FROM unnest($subjects) t(s))'


def count_rows(con: duckdb.DuckDBPyConnection, target: str, column: str, subjects: list[str]) -> dict[str, int]:
    rows = con.execute(f'SELECT CAST("{column}" AS VARCHAR), count(*) FROM {target} '
                       f"WHERE {_pending(con, target, column)} GROUP BY 1", {"subjects": subjects}).fetchall()
    return dict(rows)


def _delete(con, target: str, column: str, subjects: list[str]) -> None:
    con.execute(f"DELETE FROM {target} WHERE {_pending(con, target, column)}", {"subjects": subjects})


def _anonymize(context: Context, system: System, subjects: list[str]) -> None:
    """NULL every column that is not NON_PII; replace the subject by its keyed pseudonym."""
    con, target, subject = context.con, system.target, system.subject_column
    policy = system.table.policy
    keep = {c.name.lower() for c in policy.columns if c.pii_classification is Classification.NON_PII}
    assignments = []
    for name, sql_type, *_ in con.execute(f"DESCRIBE {target}").fetchall():
        if name.lower() == subject.lower():
            digest = f'substr(veil_hmac_sha256(CAST("{name}" AS VARCHAR)), 1, 15)'
            pseudonym = (f"-CAST(('0x' || {digest}) AS BIGINT)" if any(t in sql_type for t in ("INT", "DECIMAL"))
                         else f"'anon_' || {digest}")
            assignments.append(f'"{name}" = {pseudonym}')
        elif name.lower() not in keep:
            assignments.append(f'"{name}" = NULL')
    con.execute(f"UPDATE {target} SET {', '.join(assignments)} WHERE {_pending(con, target, subject)}",
                {"subjects": subjects})


def _subject_values(context: Context, subjects: list[str]) -> dict[str, list[tuple[str, int, str]]]:
    """Per subject, the (value, keep_last, luhn) of every column the vault tokenizes."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    for table, column, options in tokenize_rules(context.plan):
        target = context.relations.sql_name(table.relation)
        subject = table.policy.subject
        if not subject:
            continue
        rows = context.con.execute(
            f'SELECT DISTINCT CAST("{subject}" AS VARCHAR), CAST("{column}" AS VARCHAR) FROM {target} '
            f'WHERE "{column}" IS NOT NULL AND {_pending(context.con, target, subject)}',
            {"subjects": subjects}).fetchall()
        for who, value in rows:
            found.setdefault(who, []).append((value, options.get("keep_last", 0), options.get("luhn", "invalid")))
    return found


def _vault(context: Context, system: System, subjects: list[str], apply: bool, _names=None) -> dict[str, int]:
    values = _subject_values(context, subjects)
    vault = Vault(Path(system.target), context.keyring)
    try:
        fingerprints = {who: [vault.fingerprint(*v) for v in vs] for who, vs in values.items()}
        counts = vault.count_fingerprints(fingerprints)
        if apply:
            vault.forget([fp for fps in fingerprints.values() for fp in fps])
    finally:
        vault.close()
    if apply:
        rewrite_database(Path(system.target))
    return counts


def _published(_context: Context, system: System, subjects: list[str], apply: bool,
               subject_names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    with duckdb.connect(system.target, read_only=not apply) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, table in tables:
            target = f'"{schema}"."{table}"'
            columns = {r[0].lower(): r[0] for r in con.execute(f"DESCRIBE {target}").fetchall()}
            column = next((columns[n.lower()] for n in subject_names if n.lower() in columns), None)
            if column is None:
                continue
            for who, n in count_rows(con, target, column, subjects).items():
                counts[who] = counts.get(who, 0) + n
            if apply:
                _delete(con, target, column, subjects)
    if apply:
        rewrite_database(Path(system.target))
    return counts


def _seed_file(_context: Context, system: System, subjects: list[str], apply: bool, _names=None) -> dict[str, int]:
    path = Path(system.target)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = list(reader)
    index = next((i for i, h in enumerate(header) if h.strip().lower() == system.subject_column.lower()), None)
    wanted = set(subjects)
    counts: dict[str, int] = {}
    kept = []
    for row in rows:
        who = row[index].strip() if index is not None and index < len(row) else None
        if who in wanted:
            counts[who] = counts.get(who, 0) + 1
        else:
            kept.append(row)
    if apply and counts:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(kept)
        os.replace(temp, path)
    return counts


def erase_system(context: Context, system: System, subjects: list[str], apply: bool,
                 subject_names: list[str], before_apply=lambda counts: None) -> dict[str, int]:
    """Rows per subject in the system; with `apply`, erase them (one statement for all subjects).

    `before_apply(counts)` runs between counting and erasing (the journal's `started` step).
    """
    if not system.stores_data or not subjects:
        before_apply({})
        return {}
    if system.kind in {"vault", "published file", "seed file"}:
        counts = _FILE_SYSTEMS[system.kind](context, system, subjects, False, subject_names)
        before_apply(counts)
        if apply and counts:
            _FILE_SYSTEMS[system.kind](context, system, subjects, True, subject_names)
        return counts
    counts = count_rows(context.con, system.target, system.subject_column, subjects)
    before_apply(counts)
    if apply and counts:
        context.con.execute("BEGIN TRANSACTION")
        if system.method == "anonymize":
            _anonymize(context, system, subjects)
        else:
            _delete(context.con, system.target, system.subject_column, subjects)
        context.con.execute("COMMIT")
    return counts


_FILE_SYSTEMS = {"vault": _vault, "published file": _published, "seed file": _seed_file}
