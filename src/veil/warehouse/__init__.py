"""The warehouse seam: one way to connect, resolve relations, run statements and compact.

Commands never open a driver connection themselves: they ask the project
for its warehouse (`project.warehouse()`), a context manager that yields a
`Warehouse`. `open_warehouse` picks the implementation from the dbt target's
`type`: `postgres` is `veil.warehouse.postgres`, anything else (and any
`--database FILE`) the DuckDB file of `veil.warehouse.duckdb`.

Driver errors become one message and exit 2: a warehouse that another
process holds (`dbt build` running) is "warehouse busy: ...", a missing
one "warehouse ... not found", never a traceback.
"""

from __future__ import annotations

from veil.warehouse.base import PhysicalTable, Warehouse, WarehouseError
from veil.warehouse.duckdb import DuckDBWarehouse, translate_error
from veil.warehouse.duckdb import open_warehouse as open_duckdb

__all__ = ["DuckDBWarehouse", "PhysicalTable", "Warehouse", "WarehouseError", "open_warehouse",
           "resolve_database", "target_type", "translate_error"]


def target_type(project) -> str:
    """`duckdb` when a `--database FILE` is given, else the dbt target's `type`."""
    if project.database_override is not None:
        return "duckdb"
    return str(project.target.get("type", "duckdb"))


def open_warehouse(project, read_only: bool = False):
    """The project's warehouse as a context manager, by the target's type."""
    if target_type(project) == "postgres":
        from veil.warehouse.postgres import open_postgres

        return open_postgres(project, read_only=read_only)
    return open_duckdb(project, read_only=read_only)


def resolve_database(project_dir, database=None):
    """The warehouse file of a project: `database` if given, else the dbt target's `path`.

    >>> resolve_database(".", "warehouse.duckdb").name
    'warehouse.duckdb'
    """
    from veil.project import Project

    return Project.load(project_dir, database=database).database
