"""The PostgreSQL warehouse: a server database reached with the dbt profile target's settings.

Statements are sqlglot trees rendered with `dialect="postgres"`; values are
bound (psycopg2 `%s` / `%(name)s`, which is what sqlglot renders
`exp.Placeholder()` as), never pasted. A literal `%` in a rendered tree is
escaped so the driver does not read it as a placeholder:

>>> from sqlglot import exp
>>> render(exp.select("*").from_("t").where(exp.column("a").like(exp.Literal.string("50%"))
...        .and_(exp.column("b").eq(exp.Placeholder()))), bound=True)
"SELECT * FROM t WHERE a LIKE '50%%' AND b = %s"

The connection settings are dbt-postgres's (`host`, `port`, `user`,
`password` or `pass`, `dbname` or `database`, `schema`, and optionally
`sslmode`, `connect_timeout`, `role`, `search_path`):

>>> connect_kwargs({"type": "postgres", "host": "db", "user": "u", "pass": "p", "database": "w", "schema": "s"})
{'host': 'db', 'port': 5432, 'user': 'u', 'dbname': 'w', 'password': 'p', 'connect_timeout': 10}

Every statement runs under `lock_timeout` (default 5 s): a table that
another session holds (`dbt build` replacing it, a long transaction) fails
as "warehouse busy: ..." instead of waiting forever; a server that is down
is "cannot connect to PostgreSQL at host:port/dbname: ...".

Erasure and compaction. `DELETE` only marks tuples dead: the bytes stay in
the table's files until a vacuum reuses the space. `compact()` runs
`VACUUM FULL` on every table this warehouse changed (DELETE, UPDATE,
INSERT, MERGE, TRUNCATE), which writes a new file of live tuples only
(table, TOAST and indexes) and drops the old one, then ANALYZE, so the
planner statistics (`pg_stats`) sample only live rows. What it cannot reach:

- tuples still visible to an older snapshot (a transaction open since
  before the delete, e.g. a long `pg_dump`) are copied into the new file:
  they go at the next `compact()` once that transaction ends;
- the write-ahead log, WAL archives, replicas' WAL and base backups keep the
  erased tuples until they rotate out; a restore from them brings the rows
  back, which `veil erase --reapply` covers;
- blocks the file system freed are not overwritten (as for any file);
- the old statistics rows are dead tuples of `pg_catalog.pg_statistic`
  until it is vacuumed (a superuser can `VACUUM FULL pg_catalog.pg_statistic`);
- a server log at `log_statement=all` records statement text, bound values
  included (erasure's pending ids reach the server by `COPY`, whose rows
  the log does not record; the statements name no id).

`export_duckdb` (how `veil publish` writes its standalone file from
PostgreSQL) reads each query in one REPEATABLE READ snapshot through a
server-side cursor, 10,000 rows at a time, into DuckDB tables typed from the
result columns (`EXPORT_TYPES`): an unconstrained `numeric` becomes DOUBLE,
as DuckDB's own PostgreSQL scanner does, and a type with no DuckDB twin
(json, inet, arrays, enums...) its text:

>>> duckdb_column("numeric", 10, 2), duckdb_column("numeric", None, None), duckdb_column("jsonb", None, None)
(('DECIMAL(10, 2)', None), ('DOUBLE', 'double precision'), ('VARCHAR', 'text'))
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from veil.policy.relation import Relation, parse_relation
from veil.relations import PhysicalRelations
from veil.warehouse.base import SYSTEM_SCHEMAS, PhysicalTable, StatementError, Warehouse, WarehouseError

DEFAULT_LOCK_TIMEOUT_MS = 5000
EXPORT_BATCH_ROWS = 10_000
# PostgreSQL type (format_type without modifiers) -> the DuckDB type it is exported as; anything else is its text
EXPORT_TYPES = {
    "boolean": "BOOLEAN", "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT", "real": "FLOAT",
    "double precision": "DOUBLE", "text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR",
    "name": "VARCHAR", "date": "DATE", "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ", "time without time zone": "TIME", "bytea": "BLOB", "uuid": "UUID",
}
_CHANGES = (exp.Delete, exp.Update, exp.Insert, exp.Merge, exp.TruncateTable)
_BUSY = {"55P03", "40P01", "55006"}   # lock_not_available (lock_timeout), deadlock, object_in_use
_GONE = {"57P01", "57P02", "57P03", "08000", "08003", "08006"}   # shutdown, cannot connect now, connection lost


def connect_kwargs(target: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg2.connect() arguments from a dbt-postgres target."""
    kwargs: dict[str, Any] = {"host": str(target.get("host", "localhost")), "port": int(target.get("port", 5432)),
                              "user": str(target.get("user", "")),
                              "dbname": str(target.get("dbname") or target.get("database") or "")}
    password = target.get("password", target.get("pass"))
    if password not in (None, ""):
        kwargs["password"] = str(password)
    if target.get("sslmode"):
        kwargs["sslmode"] = str(target["sslmode"])
    kwargs["connect_timeout"] = int(target.get("connect_timeout") or 10)
    return kwargs


def render(statement: exp.Expression | str, bound: bool) -> str:
    """SQL for psycopg2: a tree in the postgres dialect, `%` escaped when values are bound."""
    if isinstance(statement, str):
        return statement
    if not bound:
        return statement.sql(dialect="postgres")
    token = secrets.token_hex(8)
    tree = statement.copy()
    originals: dict[str, str] = {}
    for index, node in enumerate(list(tree.find_all(exp.Placeholder))):
        marker = f"veil{token}p{index}"
        originals[f"%%({marker})s"] = node.sql(dialect="postgres")
        node.replace(exp.Placeholder(this=marker))
    sql = tree.sql(dialect="postgres").replace("%", "%%")
    for marker, original in originals.items():
        sql = sql.replace(marker, original)
    return sql


def translate_error(exc: Exception, where: str) -> WarehouseError:
    """A psycopg2 error as one user-facing message."""
    import psycopg2

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(exc, "pgcode", None)
    if code in _BUSY:
        return WarehouseError(f"warehouse busy: a table on {where} is locked by another session (is `dbt build` "
                              f"running?); try again when it is done ({text})")
    if code in _GONE or (code is None and isinstance(exc, psycopg2.OperationalError)):
        return WarehouseError(f"cannot connect to PostgreSQL at {where}: {text}")
    return StatementError(where, text)


def duckdb_column(pg_type: str, precision: int | None, scale: int | None) -> tuple[str, str | None]:
    """(the DuckDB type of an exported column, the PostgreSQL type to cast it to first, or None)."""
    if pg_type == "numeric":
        if precision and 0 < precision <= 38:
            return f"DECIMAL({precision}, {scale or 0})", None
        return "DOUBLE", "double precision"
    if pg_type in EXPORT_TYPES:
        return EXPORT_TYPES[pg_type], None
    return "VARCHAR", "text"


def changed_table(statement: exp.Expression | str) -> PhysicalTable | None:
    """The table a DELETE/UPDATE/INSERT/MERGE/TRUNCATE writes, when it names its schema.

    >>> changed_table(exp.delete(PhysicalTable("raw", "users").expression, "id = 1"))
    PhysicalTable(schema='raw', name='users')
    >>> changed_table("SELECT 1") is None
    True
    """
    if isinstance(statement, str):
        try:
            statement = sqlglot.parse_one(statement, read="postgres")
        except sqlglot.errors.ParseError:
            return None
    if not isinstance(statement, _CHANGES):
        return None
    target = statement.expressions[0] if isinstance(statement, exp.TruncateTable) else statement.this
    table = target if isinstance(target, exp.Table) else target.find(exp.Table) if target else None
    if table is None or not table.name:
        return None
    return PhysicalTable(table.db, table.name)   # schema "" when unqualified: the warehouse resolves it


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database; `con` is the open psycopg2 connection (autocommit outside `transaction()`)."""

    dialect = "postgres"

    def __init__(self, target: Mapping[str, Any], manifest: Mapping[str, Any] | None, read_only: bool = False,
                 lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS):
        import psycopg2

        kwargs = connect_kwargs(target)
        self.location = f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
        self.local_dirs = ()
        self.schema = str(target.get("schema") or "public")
        self.read_only = read_only
        self.changed: set[PhysicalTable] = set()
        self._in_transaction = False
        options = f"-c lock_timeout={int(lock_timeout_ms)}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        try:
            self.con = psycopg2.connect(options=options, **kwargs)
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to PostgreSQL at {self.location}: "
                                 f"{(str(exc).strip().splitlines() or ['?'])[0]}") from None
        self.con.autocommit = True
        if target.get("role"):
            self.execute("SELECT pg_catalog.set_config('role', %s, false)", [str(target["role"])])
        if target.get("search_path"):
            self.execute("SELECT pg_catalog.set_config('search_path', %s, false)", [str(target["search_path"])])
        self.relations = PhysicalRelations.from_manifest(manifest, None)
        self.relations.schemas_by_table = {name.lower(): schema for schema, name in self.execute(
            "SELECT min(table_schema), table_name FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema NOT IN %s GROUP BY table_name", [SYSTEM_SCHEMAS])}

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def _run(self, statement: exp.Expression | str, params) -> tuple[list[str], list[tuple]]:
        import psycopg2

        sql = render(statement, bound=params is not None)
        try:
            with self.con.cursor() as cur:
                cur.execute(sql, params)
                names = [c.name for c in cur.description or []]
                rows = cur.fetchall() if cur.description is not None else []
        except psycopg2.Error as exc:
            raise translate_error(exc, self.location) from None
        table = changed_table(statement)
        if table is not None:
            self.changed.add(table if table.schema else self._resolve(table.name))
        return names, rows

    def _resolve(self, name: str) -> PhysicalTable:
        """The schema an unqualified table name resolves to on the search_path."""
        rows = self.execute("SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(%s)",
                            [exp.to_identifier(name, quoted=True).sql(dialect="postgres")])
        return PhysicalTable(rows[0][0] if rows else self.schema, name)

    def locate(self, relation: Relation | str) -> PhysicalTable:
        if isinstance(relation, str):
            relation = parse_relation(relation)
        if (relation.kind == "ref" and str(relation) not in self.relations.index
                and relation.name.lower() not in self.relations.schemas_by_table):
            return PhysicalTable(self.schema, relation.name)   # where dbt would build it
        return PhysicalTable(*self.relations.locate(relation))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        import psycopg2

        self.execute("BEGIN")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            with contextlib.suppress(psycopg2.Error):
                self.con.cursor().execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self.execute("COMMIT")

    @contextlib.contextmanager
    def _cursor(self, begin: str | None) -> Iterator[Any]:
        """A cursor in a transaction opened with `begin` (None: the one already open), driver errors translated."""
        import psycopg2

        own = begin is not None and not self._in_transaction
        try:
            with self.con.cursor() as cur:
                if own:
                    cur.execute(begin)
                try:
                    yield cur
                except BaseException:
                    if own:
                        with contextlib.suppress(psycopg2.Error):
                            self.con.cursor().execute("ROLLBACK")
                    raise
                if own:
                    cur.execute("COMMIT")
        except psycopg2.Error as exc:
            raise translate_error(exc, self.location) from None

    def vault_name(self) -> str | None:
        from veil import postgres_vault

        return postgres_vault.NAME if self.execute(postgres_vault.INSTALLED)[0][0] else None

    def token_vault(self, keyring):
        from veil.postgres_vault import PostgresVault

        return PostgresVault(self, keyring)

    def vault_tables(self) -> list[PhysicalTable]:
        from veil import postgres_vault

        return [PhysicalTable(schema, name) for schema, name in postgres_vault.TABLES]

    def register_rows(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> None:
        """A TEMPORARY table, filled by `COPY FROM STDIN` (its rows never reach the statement log).

        `BEGIN READ WRITE`: a read-only warehouse (a dry run) may still write its own temporary table.
        """
        table = exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier("pg_temp"))
        schema = exp.Schema(this=exp.Table(this=exp.to_identifier(name, quoted=True)), expressions=[
            exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build("text")) for c in columns])
        create = exp.Create(this=schema, kind="TABLE", properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
        data = io.StringIO("".join(",".join("" if v is None else '"' + str(v).replace('"', '""') + '"' for v in row)
                                   + "\n" for row in rows))   # CSV: unquoted empty is NULL, quoted is text
        with self._cursor("BEGIN READ WRITE") as cur:
            cur.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql(dialect="postgres"))
            cur.execute(create.sql(dialect="postgres"))
            cur.copy_expert(f"COPY {table.sql(dialect='postgres')} FROM STDIN WITH (FORMAT csv)", data)

    def _export_columns(self, cur, query: exp.Select) -> list[tuple[str, str, str | None]]:
        """(name, DuckDB type, cast first to) of each column of the query's result."""
        cur.execute(render(query.limit(0), bound=False))
        described = [(c.name, c.type_code, c.precision, c.scale) for c in cur.description]
        cur.execute("SELECT oid, pg_catalog.format_type(oid, NULL) FROM pg_catalog.pg_type WHERE oid = ANY(%s)",
                    [sorted({oid for _, oid, _, _ in described})])
        names = dict(cur.fetchall())
        numeric = {oid for oid, name in names.items() if name == "numeric"}
        return [(name, *duckdb_column(names.get(oid, ""), precision if oid in numeric else None, scale))
                for name, oid, precision, scale in described]

    def export_duckdb(self, queries: Mapping[str, exp.Select], path: Path) -> dict[str, int]:
        import duckdb

        counts: dict[str, int] = {}
        try:
            with duckdb.connect(str(path)) as out, \
                    self._cursor("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as cur:
                cur.execute("SET LOCAL TIME ZONE 'UTC'")
                for name, query in queries.items():
                    counts[name] = self._export_one(cur, out, name, query)
                out.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot write {path}: {(str(exc).splitlines() or ['?'])[0]}") from None
        return counts

    def _export_one(self, cur, out, name: str, query: exp.Select) -> int:
        import pyarrow as pa

        columns = self._export_columns(cur, query)
        inner = exp.Subquery(this=query.copy(), alias=exp.TableAlias(this=exp.to_identifier("veil_q")))
        select = exp.select(*[exp.cast(exp.column(c, table="veil_q", quoted=True), cast) if cast
                              else exp.column(c, table="veil_q", quoted=True) for c, _, cast in columns]).from_(inner)
        target = exp.Table(this=exp.to_identifier(name, quoted=True))
        out.execute(exp.Create(this=exp.Schema(this=target, expressions=[
            exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(kind, dialect="duckdb"))
            for c, kind, _ in columns]), kind="TABLE").sql(dialect="duckdb"))
        cur.execute(f"DECLARE veil_export NO SCROLL CURSOR FOR {render(select, bound=False)}")
        rows = 0
        while True:
            cur.execute(f"FETCH FORWARD {EXPORT_BATCH_ROWS} FROM veil_export")
            batch = cur.fetchall()
            if not batch:
                break
            values = list(zip(*batch))
            table = pa.table({f"c{i}": pa.array([bytes(v) if isinstance(v, memoryview) else v for v in column])
                              for i, column in enumerate(values)})
            out.register("veil_batch", table)
            out.execute(f"INSERT INTO {target.sql(dialect='duckdb')} SELECT * FROM veil_batch")
            out.unregister("veil_batch")
            rows += len(batch)
        cur.execute("CLOSE veil_export")
        return rows

    def compact(self, tables: Sequence[PhysicalTable] | None = None) -> None:
        """`VACUUM FULL` each changed table (or only `tables`): its files then hold live tuples only.

        VACUUM cannot run inside a transaction; it takes an ACCESS EXCLUSIVE
        lock, so a table in use is "warehouse busy" after `lock_timeout`.
        ANALYZE too: the planner statistics (`pg_stats`, readable by anyone who
        may read the table) sample column values, an erased one included.
        """
        if self._in_transaction:
            raise WarehouseError("compact() cannot run inside a transaction")
        rights = {t: self._may_vacuum(t) for t in sorted(set(tables) if tables is not None else self.changed)}
        refused = [str(t) for t, may in rights.items() if may is False]
        if refused:   # PostgreSQL would skip them with a mere WARNING: the erased bytes would stay
            raise WarehouseError(f"cannot make the deletions physical in {', '.join(refused)}: only a table's "
                                 f"owner, the database owner or a superuser may VACUUM FULL it; run again as one "
                                 f"(PostgreSQL at {self.location})")
        for table, may in rights.items():
            if may:
                self.execute(f"VACUUM (FULL, ANALYZE) {table.expression.sql(dialect='postgres')}")
            self.changed.discard(table)

    def _may_vacuum(self, table: PhysicalTable) -> bool | None:
        """Whether this session may VACUUM `table` (member of its owner or the database owner, or superuser).

        None when there is no such table. From pg_class by name: information_schema
        hides the tables a role has no privilege on (they would pass as absent)
        and `regclass` needs USAGE on their schema.
        """
        query = ("SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE') OR pg_catalog.pg_has_role(d.datdba, 'USAGE') "
                 "OR r.rolsuper FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, "
                 "pg_catalog.pg_database d, pg_catalog.pg_roles r WHERE n.nspname = %s AND c.relname = %s "
                 "AND c.relkind IN ('r', 'm') AND d.datname = pg_catalog.current_database() "
                 "AND r.rolname = current_user")
        rows = self.execute(query, [table.schema or self._resolve(table.name).schema, table.name])
        return bool(rows[0][0]) if rows else None


@contextlib.contextmanager
def open_postgres(project, read_only: bool = False) -> Iterator[PostgresWarehouse]:
    """The project's PostgreSQL warehouse (its dbt target), closed on exit."""
    warehouse = PostgresWarehouse(project.target, project.manifest, read_only=read_only)
    try:
        yield warehouse
    finally:
        warehouse.close()
