"""The reference project's synthetic raw data, on a PostgreSQL server.

The five tables are generated exactly as for DuckDB (`veil.demo.synthetic`,
in an in-memory DuckDB), then (re)created in the server's schema (``raw``)
with the same columns and types, and filled with ``COPY ... FROM STDIN``:
the rows never appear as statement text (a server at ``log_statement=all``
logs none of them). A table that exists is dropped first, with the views
built on it (``CASCADE``: dbt's staging views; the next ``dbt build``
recreates them).

The connection is a dbt profile target's (``--target``, else the profile's),
the settings ``dbt`` and ``veil keys install`` use; its user needs CREATE on
the database and becomes the owner of the schema's tables.

From the shell::

    python -m veil.demo.postgres --project-dir . --target postgres --users 2000 --events 200000

>>> create_table_sql("raw", "payments", [("payment_id", "BIGINT"), ("amount", "DECIMAL(12,2)")])
'CREATE TABLE "raw"."payments" ("payment_id" BIGINT, "amount" DECIMAL(12, 2))'
>>> csv_rows([(1, "", None, True)])
'1,"",,True\\n'
"""

from __future__ import annotations

import argparse
import datetime
import io
import sys
from collections.abc import Iterable, Sequence

import duckdb
from sqlglot import exp

from veil.demo.statements import STATEMENTS
from veil.demo.synthetic import generate
from veil.errors import UsageError, VeilError
from veil.postgres_keys import one_transaction


def create_table_sql(schema: str, table: str, columns: Sequence[tuple[str, str]]) -> str:
    """CREATE TABLE of one generated table in PostgreSQL, from its DuckDB column types."""
    target = exp.Table(this=exp.to_identifier(table, quoted=True), db=exp.to_identifier(schema, quoted=True))
    definitions = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                                 kind=exp.DataType.build(duck_type, dialect="duckdb"))
                   for name, duck_type in columns]
    return exp.Create(this=exp.Schema(this=target, expressions=definitions), kind="TABLE").sql(dialect="postgres")


def _field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """Rows as PostgreSQL's CSV COPY reads them: everything but numbers quoted (an empty string stays one), NULL bare."""
    return "".join(",".join(map(_field, row)) + "\n" for row in rows)


def load(con, *, users: int = 2000, events: int = 100_000, payments: int | None = None,
         as_of: datetime.date | None = None, seed: int = 42, schema: str = "raw") -> dict[str, int]:
    """(Re)create the five raw tables in `schema` of `con`'s database (psycopg2) and return their row counts.

    One transaction: a failure leaves the tables as they were.
    """
    with duckdb.connect() as duck:
        counts = generate(duck, users=users, events=events, payments=payments, as_of=as_of, seed=seed,
                          schema="raw")
        quoted = exp.to_identifier(schema, quoted=True).sql(dialect="postgres")
        with one_transaction(con), con.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            for table, _ in STATEMENTS:
                columns = [(row[0], row[1]) for row in duck.execute(f'DESCRIBE raw."{table}"').fetchall()]
                name = exp.Table(this=exp.to_identifier(table, quoted=True),
                                 db=exp.to_identifier(schema, quoted=True)).sql(dialect="postgres")
                cur.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
                cur.execute(create_table_sql(schema, table, columns))
                rows = duck.execute(f'SELECT * FROM raw."{table}"').fetchall()
                cur.copy_expert(f"COPY {name} FROM STDIN WITH (FORMAT csv)", io.StringIO(csv_rows(rows)))
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the raw tables into the PostgreSQL database of a dbt profile target; print their row counts."""
    parser = argparse.ArgumentParser(
        prog="python -m veil.demo.postgres",
        description="Generate the reference project's raw tables, deterministically, into a PostgreSQL database "
                    "(a dbt profile target's).",
        epilog="example: python -m veil.demo.postgres --project-dir . --target postgres --users 2000",
    )
    parser.add_argument("--project-dir", default=".", help="the dbt project (its profiles.yml; default: .)")
    parser.add_argument("--target", default=None, help="the profile target (default: DBT_TARGET, else the profile's)")
    parser.add_argument("--users", type=int, default=2000, help="number of users (default: 2000)")
    parser.add_argument("--events", type=int, default=100_000, help="number of events (default: 100000)")
    parser.add_argument("--payments", type=int, default=None, help="number of payments (default: 2 per user)")
    parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None,
                        help="YYYY-MM-DD; timestamps fall in the 3 years before it (default: today)")
    parser.add_argument("--seed", type=int, default=42, help="seed (default: 42)")
    parser.add_argument("--schema", default="raw", help="schema to (re)create the tables in (default: raw)")
    args = parser.parse_args(argv)
    try:
        counts = _load_into_target(args)
    except VeilError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for table, count in counts.items():
        print(f"{table:<20}{count:>10}")
    return 0


def _load_into_target(args: argparse.Namespace) -> dict[str, int]:
    import os

    import psycopg2

    from veil.project import Project
    from veil.warehouse.postgres import connect_kwargs

    env = dict(os.environ, **({"DBT_TARGET": args.target} if args.target else {}))
    target = Project.load(args.project_dir, env=env).target
    if target.get("type") != "postgres":
        raise UsageError(f"the dbt target is {target.get('type')!r}, not postgres (use --target)")
    kwargs = connect_kwargs(target)
    location = f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
    try:
        con = psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        raise UsageError(f"cannot connect to PostgreSQL at {location}: "
                         f"{(str(exc).strip().splitlines() or ['?'])[0]}") from None
    try:
        return load(con, users=args.users, events=args.events, payments=args.payments, as_of=args.as_of,
                    seed=args.seed, schema=args.schema)
    except psycopg2.Error as exc:
        raise UsageError(f"loading the demo data into {location} failed: "
                         f"{(str(exc).strip().splitlines() or ['?'])[0]}") from None
    finally:
        con.close()


if __name__ == "__main__":
    raise SystemExit(main())
