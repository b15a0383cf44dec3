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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from veil.policy.relation import Relation, parse_relation
from veil.relations import PhysicalRelations
from veil.warehouse.base import PhysicalTable, Warehouse, WarehouseError


def translate_error(exc: duckdb.Error, where: str) -> WarehouseError:
    """A driver error as one user-facing message."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return WarehouseError(f"warehouse busy: {where} is in use by another process (is `dbt build` running?); "
                              f"try again when it is done ({text})")
    return WarehouseError(f"warehouse error on {where}: {text}")


def connect_file(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to an existing DuckDB file, errors translated."""
    if not Path(path).is_file():
        raise WarehouseError(f"warehouse {path} not found; run `dbt build` first (or pass --database FILE)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise translate_error(exc, str(path)) from None


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; `con` is the open connection (for the building blocks that take one)."""

    dialect = "duckdb"

    def __init__(self, path: Path, manifest: Mapping[str, Any] | None, read_only: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self._manifest = manifest
        self.con = connect_file(self.path, read_only)
        self.relations = PhysicalRelations.from_manifest(manifest, self.con)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def execute(self, statement: exp.Expression | str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> list[tuple]:
        sql = statement if isinstance(statement, str) else statement.sql(dialect=self.dialect)
        try:
            return self.con.execute(sql, params).fetchall() if params is not None else self.con.execute(sql).fetchall()
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

    def compact(self) -> None:
        """Rewrite the file with only its live rows (DELETE + VACUUM keep the bytes), then reopen."""
        from veil.erasure.physical import rewrite_database

        self.close()
        try:
            rewrite_database(self.path)
        finally:
            self.con = connect_file(self.path, self.read_only)


@contextlib.contextmanager
def open_warehouse(project, read_only: bool = False) -> Iterator[DuckDBWarehouse]:
    """The project's DuckDB warehouse, closed on exit."""
    warehouse = DuckDBWarehouse(project.database, project.manifest, read_only=read_only)
    try:
        yield warehouse
    finally:
        warehouse.close()
