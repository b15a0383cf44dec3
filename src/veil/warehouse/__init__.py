"""The warehouse seam: one way to connect, resolve relations, run statements and compact.

Commands never open a driver connection themselves: they ask the project
for its warehouse (`project.warehouse()`), a context manager that yields a
`Warehouse`. The DuckDB implementation is `veil.warehouse.duckdb`; a server
engine (PostgreSQL, Spark) implements the same methods.

Driver errors become one message and exit 2: a warehouse that another
process holds (`dbt build` running) is "warehouse busy: ...", a missing
one "warehouse ... not found", never a traceback.
"""

from __future__ import annotations

from veil.warehouse.base import PhysicalTable, Warehouse, WarehouseError
from veil.warehouse.duckdb import DuckDBWarehouse, open_warehouse, translate_error

__all__ = ["DuckDBWarehouse", "PhysicalTable", "Warehouse", "WarehouseError", "open_warehouse",
           "resolve_database", "translate_error"]


def resolve_database(project_dir, database=None):
    """The warehouse file of a project: `database` if given, else the dbt target's `path`.

    >>> resolve_database(".", "warehouse.duckdb").name
    'warehouse.duckdb'
    """
    from veil.project import Project

    return Project.load(project_dir, database=database).database
