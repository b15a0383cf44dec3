"""The warehouse seam: one way to connect, resolve relations, run statements and compact.

Commands never open a driver connection themselves: they ask the project
for its warehouse (`project.warehouse()`), a context manager that yields a
`Warehouse`. `open_warehouse` picks the implementation from the dbt target's
`type`: `postgres` is `veil.warehouse.postgres`, anything else (and any
`--database FILE`) the DuckDB file of `veil.warehouse.duckdb`.

Driver errors become one message and exit 2: a warehouse that another
process holds (`dbt build` running) is "warehouse busy: ...", a missing
one "warehouse ... not found" (a server that is down "cannot connect to
PostgreSQL at ..."), never a traceback.

Every operational command (erase, retention, access, summary, publish)
runs the same code on either engine: it builds sqlglot trees, and the
warehouse renders them in its `dialect`. What differs per engine lives
here: how a deletion becomes physical (`compact`), how a list of ids
reaches the SQL (`register_rows`), how tables leave as a DuckDB file
(`export_duckdb`).
"""

from __future__ import annotations

from typing import Any

from veil.warehouse.base import PhysicalTable, StatementError, Warehouse, WarehouseError
from veil.warehouse.duckdb import DuckDBWarehouse, translate_error
from veil.warehouse.duckdb import open_warehouse as open_duckdb

__all__ = ["DuckDBWarehouse", "PhysicalTable", "StatementError", "Warehouse", "WarehouseError", "as_warehouse",
           "open_warehouse", "resolve_database", "target_type", "translate_error"]


def target_type(project) -> str:
    """`duckdb` when a `--database FILE` is given, else the dbt target's `type`."""
    if project.database_override is not None:
        return "duckdb"
    return project.adapter


def open_warehouse(project, read_only: bool = False, missing_ok: bool = False):
    """The project's warehouse as a context manager, by the target's type.

    `missing_ok`: a DuckDB file dbt has not built yet yields None instead of
    failing (a server is never "not built": it connects or fails).
    """
    if target_type(project) == "postgres":
        from veil.warehouse.postgres import open_postgres

        return open_postgres(project, read_only=read_only)
    return open_duckdb(project, read_only=read_only, missing_ok=missing_ok)


def as_warehouse(source: Any, relations=None) -> Warehouse:
    """`source` if it is a Warehouse; a bare DuckDB connection wrapped in the seam (it stays the caller's).

    >>> import duckdb
    >>> as_warehouse(duckdb.connect()).dialect
    'duckdb'
    """
    if isinstance(source, Warehouse):
        return source
    return DuckDBWarehouse.from_connection(source, relations)


def resolve_database(project_dir, database=None):
    """The warehouse file of a project: `database` if given, else the dbt target's `path`.

    >>> resolve_database(".", "warehouse.duckdb").name
    'warehouse.duckdb'
    """
    from veil.project import Project

    return Project.load(project_dir, database=database).database
