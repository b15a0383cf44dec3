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
from pathlib import Path
from typing import Any

from sqlglot import exp

from veil.errors import UsageError
from veil.policy.relation import Relation


class WarehouseError(UsageError):
    """The warehouse is missing, busy or refused a statement (exit 2, one message)."""


class StatementError(WarehouseError):
    """The warehouse refused one statement (a missing table or column...); `reason`: the driver's first line.

    >>> str(StatementError("w.duckdb", "Catalog Error: Table with name x does not exist!"))
    'warehouse error on w.duckdb: Catalog Error: Table with name x does not exist!'
    """

    def __init__(self, where: str, reason: str):
        self.reason = reason
        super().__init__(f"warehouse error on {where}: {reason}")


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
STORED_KINDS = ("BASE TABLE", "VIEW")   # not a session's temporary tables (veil's own `veil_pending`)


class Warehouse:
    """The interface; `DuckDBWarehouse` and `PostgresWarehouse` implement it.

    `dialect` is the sqlglot dialect statements are rendered in; `location`
    names the warehouse in messages and audit records; `local_dirs` are the
    folders where the warehouse's own files (and a killed rewrite's leftovers)
    live on this machine (none for a server).
    """

    dialect: str = ""
    location: str = ""
    local_dirs: tuple[Path, ...] = ()

    def _run(self, statement: exp.Expression | str, params) -> tuple[list[str], list[tuple]]:
        """Run one statement on the engine: (the result's column names, every row)."""
        raise NotImplementedError

    def execute(self, statement: exp.Expression | str, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> list[tuple]:
        """Run one statement (a sqlglot tree, rendered for this engine) and return every row."""
        return self._run(statement, params)[1]

    def records(self, statement: exp.Expression, params: Sequence[Any] | Mapping[str, Any] | None = None
                ) -> list[dict[str, Any]]:
        """Every row as a dict, keyed by the result's column names as the warehouse reports them."""
        names, rows = self._run(statement, params)
        return [dict(zip(names, row)) for row in rows]

    def locate(self, relation: Relation | str) -> PhysicalTable:
        """The physical table of a policy relation (`source(...)`, `ref(...)`), from the manifest."""
        raise NotImplementedError

    def tables(self) -> list[tuple[PhysicalTable, str]]:
        """Every table and view of this database: (table, 'BASE TABLE' | 'VIEW'), the engine's catalog left out."""
        query = (exp.select("table_schema", "table_name", "table_type").from_("information_schema.tables")
                 .where(exp.condition("table_catalog = current_database()"))
                 .where(exp.not_(exp.column("table_schema").isin(*SYSTEM_SCHEMAS)))
                 .where(exp.column("table_type").isin(*STORED_KINDS)).order_by("1", "2"))
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

    def compact(self, tables: Sequence[PhysicalTable] | None = None) -> None:
        """Make deletions physical: deleted values leave the storage (closes open results).

        `tables`: which tables (default: those this connection changed; a
        crashed run's tables must be named); an engine that rewrites its
        whole file ignores it.
        """
        raise NotImplementedError

    def vault_name(self) -> str | None:
        """The token vault the warehouse keeps itself, by name; None when the vault is a file of the project.

        DuckDB's is `state/vault.duckdb` (`veil.vault.Vault`); PostgreSQL's
        lives in the database (`veil.postgres_vault`).
        """
        return None

    def token_vault(self, keyring):
        """The vault `vault_name()` names, opened with `keyring` (the methods of `veil.vault.Vault` erasure uses)."""
        raise NotImplementedError

    def vault_tables(self) -> list[PhysicalTable]:
        """The tables holding the warehouse's own vault entries, for `compact()` after entries are forgotten."""
        return []

    def register_rows(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> None:
        """A relation `name` of text columns that this connection's statements can read (until it closes).

        How erasure hands its pending subjects to the warehouse (`veil_pending`):
        registered again, it is replaced. It is no table of the warehouse:
        `tables()` does not list it and `compact()` leaves it alone.
        """
        raise NotImplementedError

    def export_duckdb(self, queries: Mapping[str, exp.Select], path: Path) -> dict[str, int]:
        """Write each query's rows as table `<name>` (schema `main`) of a new DuckDB file `path`; rows per table.

        The file holds those tables and nothing else, checkpointed (no WAL
        beside it); the queries are read in one consistent snapshot.
        """
        raise NotImplementedError
