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
        """Every table and view: (table, 'BASE TABLE' | 'VIEW')."""
        raise NotImplementedError

    def columns(self, table: PhysicalTable) -> list[tuple[str, str]]:
        """(name, type) of each column, in order; empty when the table does not exist."""
        raise NotImplementedError

    def exists(self, table: PhysicalTable) -> bool:
        return bool(self.columns(table))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def compact(self) -> None:
        """Make deletions physical: deleted values leave the storage (closes open results)."""
        raise NotImplementedError
