"""Benchmark: the analyst events model on Spark `local[2]` vs a plain CTAS, at 1M and 10M events (issue 14).

The synthetic warehouse (`veil.demo.spark`: generated in DuckDB, written as
parquet, read into managed parquet tables of database `raw`) at each size;
then, in one Spark session, the three statements of
`scripts/bench/masked_build.py`, rendered for Spark exactly as veil compiles
the reference project's `analyst__events` (erasure filter only):

- plain:   CREATE TABLE ... USING parquet AS SELECT <the model's columns> FROM raw.events
- keyed:   the model (device_id through the session's `veil_hmac_sha256`, an Arrow UDF; IP subnet; erasure)
- unkeyed: the same model with device_id passed raw

It prints the ratios against plain at each size (targets: keyed at most 3x,
unkeyed at most 1.5x), how the keyed build's time grows from 1M to 10M
(near-linear is about 10x), and the DuckDB figures for the same data and
statements side by side (`--no-duckdb` skips them).

    python scripts/bench/spark_masked_build.py [--sizes 1000000,10000000] [--users 100000] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import AS_OF, BENCH_KEY, compare, model_sql, reference_plan, report, warehouse
from masked_build import DESCRIPTIONS, ERASURE_ONLY, without_keyed

TARGETS = {"keyed": 3.0, "unkeyed": 1.5}


def variants(dialect: str) -> dict[str, str]:
    plan = reference_plan()
    model = next(m for m in plan.models if m.name == "analyst__events")
    return {
        "plain": f"SELECT {', '.join(d.name for d in model.kept)} FROM raw.events",
        "keyed": model_sql(plan, model, dialect=dialect, filter_kinds=ERASURE_ONLY),
        "unkeyed": model_sql(plan, without_keyed(model), dialect=dialect, filter_kinds=ERASURE_ONLY),
    }


def session(base: Path):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in {"spark.master": "local[2]", "spark.ui.enabled": "false",
                       "spark.ui.showConsoleProgress": "false",
                       "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC",
                       "spark.driver.memory": "6g", "spark.sql.warehouse.dir": str(base / "warehouse"),
                       "spark.local.dir": str(base / "local"),
                       "spark.driver.extraJavaOptions": f"-Dderby.system.home={base / 'derby'}"}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def compare_spark(spark, statements: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds per CTAS, runs interleaved after one warm-up of each."""
    def once(sql: str) -> float:
        spark.sql("DROP TABLE IF EXISTS bench_out")
        started = time.perf_counter()
        spark.sql(f"CREATE TABLE bench_out USING parquet AS {sql}")
        return time.perf_counter() - started

    for sql in statements.values():
        once(sql)
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, sql in statements.items():
            times[name].append(once(sql))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="event counts, comma-separated")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB side")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from veil.demo.spark import load
    from veil.spark_functions import register_functions

    ok = True
    keyed_times: dict[int, float] = {}
    duck_keyed: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="veil-bench-spark-") as tmp:
        spark = session(Path(tmp))
        register_functions(spark, BENCH_KEY)
        spark_sql, duck_sql = variants("spark"), variants("duckdb")
        for events in sizes:
            started = time.perf_counter()
            load(spark, users=args.users, events=events, as_of=AS_OF)
            print(f"loaded {events:,} events into Spark in {time.perf_counter() - started:.1f}s")
            medians = compare_spark(spark, spark_sql, args.runs)
            keyed_times[events] = medians["keyed"]
            ok &= report(f"Spark local[2]: analyst__events, {events:,} events, {args.users:,} users, "
                         f"median of {args.runs}", medians, "plain", TARGETS, DESCRIPTIONS.get)
            if not args.no_duckdb:
                con = warehouse(Path(tmp) / f"bench_{events}.duckdb", args.users, events)
                duck = compare(con, duck_sql, args.runs)
                con.close()
                duck_keyed[events] = duck["keyed"]
                report(f"DuckDB, the same data and statements ({events:,} events)", duck, "plain", TARGETS,
                       DESCRIPTIONS.get)
        spark.stop()
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nkeyed build, {small:,} -> {large:,} events ({large / small:.0f}x the rows): "
              f"Spark {keyed_times[large] / keyed_times[small]:.2f}x the time"
              + (f", DuckDB {duck_keyed[large] / duck_keyed[small]:.2f}x" if duck_keyed else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
