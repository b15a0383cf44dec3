"""The DuckDB warehouse: one file, opened by this process alone while a command runs.

DuckDB allows one writing process per file: while `dbt build` holds it,
opening fails with an IOException about a lock, which becomes the message
"warehouse busy: ..." (exit 2).

>>> import tempfile, pathlib, duckdb
>>> from veil.project import Project
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> duckdb.connect(str(root / "w.duckdb")).close()
>>> project = Project.load(root, env={}, database=root / "w.duckdb")
>>> with project.warehouse() as warehouse:
...     _ = warehouse.execute("CREATE TABLE t AS SELECT 1 AS id")
...     warehouse.columns(PhysicalTable("main", "t"))
[('id', 'INTEGER')]

A building block handed a bare connection wraps it in the same seam:

>>> wrapped = DuckDBWarehouse.from_connection(duckdb.connect())
>>> wrapped.register_rows("veil_pending", ["subject"], [("7",), ("42",)])
>>> wrapped.execute("SELECT count(*) FROM veil_pending"), wrapped.tables()
([(2,)], [])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil.policy.relation import Relation, parse_relation
from veil.relations import PhysicalRelations
from veil.warehouse.base import PhysicalTable, StatementError, Warehouse, WarehouseError


def translate_error(exc: duckdb.Error, where: str) -> WarehouseError:
    """A driver error as one user-facing message."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return WarehouseError(f"warehouse busy: {where} is in use by another process (is `dbt build` running?); "
                              f"try again when it is done ({text})")
    return StatementError(where, text)


def connect_file(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to an existing DuckDB file, errors translated."""
    if not Path(path).is_file():
        raise WarehouseError(f"warehouse {path} not found; run `dbt build` first (or pass --database FILE)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise translate_error(exc, str(path)) from None


EXPORT_ALIAS = "veil_warehouse"


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; `con` is the open connection (for the building blocks that take one)."""

    dialect = "duckdb"

    def __init__(self, path: Path, manifest: Mapping[str, Any] | None, read_only: bool = False):
        self.path: Path | None = Path(path)
        self.location = str(self.path)
        self.local_dirs = (self.path.parent,)
        self.read_only = read_only
        self._manifest = manifest
        self.con = connect_file(self.path, read_only)
        self.relations = PhysicalRelations.from_manifest(manifest, self.con)

    @classmethod
    def from_connection(cls, con: duckdb.DuckDBPyConnection, relations: PhysicalRelations | None = None
                        ) -> DuckDBWarehouse:
        """The seam over a connection the caller opened (and closes): no file to compact or export."""
        warehouse = cls.__new__(cls)
        warehouse.path, warehouse.location, warehouse.read_only, warehouse._manifest = None, "DuckDB", False, None
        warehouse.con = con
        warehouse.relations = relations if relations is not None else PhysicalRelations.from_manifest(None, con)
        return warehouse

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def _run(self, statement: exp.Expression | str, params) -> tuple[list[str], list[tuple]]:
        sql = statement if isinstance(statement, str) else statement.sql(dialect=self.dialect)
        try:
            result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
            return [d[0] for d in result.description or []], result.fetchall()
        except duckdb.Error as exc:
            raise translate_error(exc, self.location) from None

    def locate(self, relation: Relation | str) -> PhysicalTable:
        if isinstance(relation, str):
            relation = parse_relation(relation)
        return PhysicalTable(*self.relations.locate(relation))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def register_rows(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> None:
        table = pa.table({column: pa.array([row[i] for row in rows], pa.string()) for i, column in enumerate(columns)})
        self.con.register(name, table)

    def export_duckdb(self, queries: Mapping[str, exp.Select], path: Path) -> dict[str, int]:
        """Attach this file read-only to the new one and copy with `CREATE TABLE ... AS` (types kept exactly)."""
        if self.path is None:
            raise WarehouseError("a DuckDB connection without its file cannot be exported")
        counts: dict[str, int] = {}
        try:
            with duckdb.connect(str(path)) as con:
                con.execute(f"ATTACH {exp.Literal.string(self.path.as_posix()).sql('duckdb')} AS {EXPORT_ALIAS} "
                            "(READ_ONLY)")
                for name, query in queries.items():
                    source = query.copy()
                    for table in source.find_all(exp.Table):
                        table.set("catalog", exp.to_identifier(EXPORT_ALIAS))
                    target = exp.Table(this=exp.to_identifier(name, quoted=True))
                    con.execute(exp.Create(this=target, kind="TABLE", expression=source).sql(dialect="duckdb"))
                    counts[name] = con.execute(exp.select(exp.Count(this=exp.Star())).from_(target.copy())
                                               .sql(dialect="duckdb")).fetchall()[0][0]
                con.execute(f"DETACH {EXPORT_ALIAS}")
                con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise translate_error(exc, self.location) from None
        return counts

    def compact(self, tables: Sequence[PhysicalTable] | None = None) -> None:
        """Rewrite the whole file with only its live rows (DELETE + VACUUM keep the bytes), then reopen."""
        from veil.erasure.physical import rewrite_database

        if self.path is None:
            raise WarehouseError("a DuckDB connection without its file cannot be compacted")
        self.close()
        try:
            rewrite_database(self.path)
        finally:
            self.con = connect_file(self.path, self.read_only)


@contextlib.contextmanager
def open_warehouse(project, read_only: bool = False, missing_ok: bool = False) -> Iterator[DuckDBWarehouse | None]:
    """The project's DuckDB warehouse, closed on exit (None when `missing_ok` and the file is not built)."""
    if missing_ok and not Path(project.database).is_file():
        yield None
        return
    warehouse = DuckDBWarehouse(project.database, project.manifest, read_only=read_only)
    try:
        yield warehouse
    finally:
        warehouse.close()
