"""What every warehouse offers veil's operational commands.

>>> PhysicalTable("raw", "users").sql_name
'"raw"."users"'
>>> PhysicalTable("raw", "users").expression.sql("postgres")
'"raw"."users"'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from veil.errors import UsageError
from veil.policy.relation import Relation


class WarehouseError(UsageError):
    """The warehouse is missing, busy or refused a statement (exit 2, one message)."""


@dataclass(frozen=True, order=True)
class PhysicalTable:
    """A table (or view) as the warehouse stores it."""

    schema: str
    name: str

    @property
    def expression(self) -> exp.Table:
        return exp.table_(exp.to_identifier(self.name, quoted=True), db=exp.to_identifier(self.schema, quoted=True))

    @property
    def sql_name(self) -> str:
        return f'"{self.schema}"."{self.name}"'

    @property
    def key(self) -> str:
        """Lower-cased `schema.name`, to compare tables."""
        return f"{self.schema}.{self.name}".lower()

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")   # the engines' own, never veil's business


class Warehouse:
    """The interface; `DuckDBWarehouse` implements it."""

    dialect: str = ""
    location: str = ""

    def execute(self, statement: exp.Expression | str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> list[tuple]:
        """Run one statement (a sqlglot tree, rendered for this engine) and return every row."""
        raise NotImplementedError

    def locate(self, relation: Relation | str) -> PhysicalTable:
        """The physical table of a policy relation (`source(...)`, `ref(...)`), from the manifest."""
        raise NotImplementedError

    def tables(self) -> list[tuple[PhysicalTable, str]]:
        """Every table and view of this database: (table, 'BASE TABLE' | 'VIEW'), the engine's catalog left out."""
        query = (exp.select("table_schema", "table_name", "table_type").from_("information_schema.tables")
                 .where(exp.condition("table_catalog = current_database()"))
                 .where(exp.not_(exp.column("table_schema").isin(*SYSTEM_SCHEMAS))).order_by("1", "2"))
        return [(PhysicalTable(schema, name), kind) for schema, name, kind in self.execute(query)]

    def columns(self, table: PhysicalTable) -> list[tuple[str, str]]:
        """(name, type) of each column, in order; empty when the table does not exist."""
        query = (exp.select("column_name", "data_type").from_("information_schema.columns")
                 .where(exp.condition("table_catalog = current_database()"))
                 .where(exp.column("table_schema").eq(exp.Placeholder()))
                 .where(exp.column("table_name").eq(exp.Placeholder())).order_by("ordinal_position"))
        return [(name, kind) for name, kind in self.execute(query, [table.schema, table.name])]

    def exists(self, table: PhysicalTable) -> bool:
        return bool(self.columns(table))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def compact(self) -> None:
        """Make deletions physical: deleted values leave the storage (closes open results)."""
        raise NotImplementedError
