"""Benchmark: the analyst events model vs a plain CREATE TABLE AS SELECT (issue 2).

Generates a synthetic warehouse (default 5M events, 100k users), renders the
generated `analyst__events` model exactly as veil compiles it (reference
policies, erasure filter only: consent and retention have their own
benchmark), and times in one DuckDB process:

- plain:   CREATE TABLE AS SELECT <the model's columns> FROM raw.events
- keyed:   the model (device_id HMAC-SHA256, IP subnet, erasure anti-join)
- unkeyed: the same model with device_id passed raw (no keyed column)

Targets: keyed at most 3x the plain copy, unkeyed at most 1.5x.

With `--target postgres` the same three statements, rendered for PostgreSQL
(device_id through the SECURITY DEFINER `veil.hmac_sha256`), run on a
throwaway PostgreSQL 15 cluster (tests/pg_server.py: initdb, unix socket,
removed afterwards); the synthetic tables are generated in DuckDB and loaded
with COPY (default 1M events), and the key is installed with
`veil.postgres_keys.install_keys`.

    python scripts/bench/masked_build.py [--events 5000000] [--users 100000] [--runs 3]
    python scripts/bench/masked_build.py --target postgres [--events 1000000]
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from common import (
    AS_OF,
    BENCH_KEY,
    REPO,
    compare,
    model_sql,
    parse_args,
    reference_plan,
    report,
    warehouse,
)

from veil.compile.plan import Action, ColumnDecision, ModelPlan
from veil.demo.synthetic import generate

ERASURE_ONLY = ("erasure",)
DESCRIPTIONS = {
    "plain": "plain CTAS of the same columns",
    "keyed": "analyst model: HMAC device_id, IP subnet, erasure",
    "unkeyed": "same model without the keyed column",
}


def without_keyed(model: ModelPlan) -> ModelPlan:
    """The same model with every keyed column passed through raw."""
    decisions = tuple(
        ColumnDecision(d.column, Action.RAW, "benchmark: raw") if d.action is Action.MASK and d.strategy == "hash"
        else d for d in model.decisions)
    return dataclasses.replace(model, decisions=decisions)


PG_TABLES = ("events", "deletion_requests")   # what the erasure-only model reads
PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "TINYINT": "smallint",
            "UTINYINT": "smallint", "USMALLINT": "integer", "UINTEGER": "bigint", "HUGEINT": "numeric"}


def load_postgres(pg, users: int, events: int) -> None:
    """The synthetic tables, generated in DuckDB, loaded into schema raw of `pg` with COPY."""
    started = time.perf_counter()
    with duckdb.connect() as duck:
        counts = generate(duck, users=users, events=events, as_of=AS_OF)
        cur = pg.cursor()
        cur.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in PG_TABLES:
            columns = duck.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                   "table_schema = 'raw' AND table_name = ? ORDER BY ordinal_position",
                                   [table]).fetchall()
            cur.execute(f"DROP TABLE IF EXISTS raw.{table}")
            cur.execute(f"CREATE TABLE raw.{table} ("
                        + ", ".join(f"{name} {PG_TYPES.get(kind, kind)}" for name, kind in columns) + ")")
            with tempfile.NamedTemporaryFile(suffix=".csv") as out:
                duck.execute(f"COPY raw.{table} TO '{out.name}' (FORMAT csv, HEADER false)")
                with open(out.name, encoding="utf-8") as handle:
                    cur.copy_expert(f"COPY raw.{table} FROM STDIN WITH (FORMAT csv)", handle)
            cur.execute(f"VACUUM ANALYZE raw.{table}")
    print(f"generated and loaded {counts} in {time.perf_counter() - started:.1f}s")


def compare_postgres(pg, variants: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds per CREATE TABLE AS, runs interleaved after one warm-up of each (as `compare`)."""
    cur = pg.cursor()

    def once(sql: str) -> float:
        cur.execute("DROP TABLE IF EXISTS bench_out")
        started = time.perf_counter()
        cur.execute(f"CREATE TABLE bench_out AS {sql}")
        return time.perf_counter() - started

    for sql in variants.values():
        once(sql)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, sql in variants.items():
            times[name].append(once(sql))
    return {name: statistics.median(values) for name, values in times.items()}


def main_postgres(args, variants: dict[str, str]) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "tests"))
    from pg_server import PgServer

    from veil.postgres_keys import install_keys

    with PgServer.start() as server:
        pg = server.connect()
        load_postgres(pg, args.users, args.events)
        install_keys(pg, BENCH_KEY)
        medians = compare_postgres(pg, variants, args.runs)
        pg.close()
    return medians


def main() -> int:
    args = parse_args(__doc__, lambda parser: parser.add_argument(
        "--target", choices=["duckdb", "postgres"], default="duckdb"), events=None)
    if args.events is None:
        args.events = 1_000_000 if args.target == "postgres" else 5_000_000

    plan = reference_plan()
    model = next(m for m in plan.models if m.name == "analyst__events")
    variants = {
        "plain": f"SELECT {', '.join(d.name for d in model.kept)} FROM raw.events",
        "keyed": model_sql(plan, model, dialect=args.target, filter_kinds=ERASURE_ONLY),
        "unkeyed": model_sql(plan, without_keyed(model), dialect=args.target, filter_kinds=ERASURE_ONLY),
    }
    if args.target == "postgres":
        medians = main_postgres(args, variants)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            con = warehouse(Path(tmp) / "bench.duckdb", args.users, args.events)
            medians = compare(con, variants, args.runs)
            con.close()
    ok = report(f"analyst__events on {args.target}, {args.events:,} events, {args.users:,} users, "
                f"median of {args.runs} runs", medians, "plain", {"keyed": 3.0, "unkeyed": 1.5}, DESCRIPTIONS.get)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
