"""Benchmark: veil's keyed HMAC in Spark, Arrow UDF vs plain Python UDF vs pure-SQL sha2 (issue 14).

One local SparkSession (`local[2]`), a parquet table of N distinct emails in
two files, and `CREATE TABLE ... USING parquet AS SELECT` of:

- plain:      the email column as it is (the baseline);
- arrow:      `veil_hmac_sha256(email)`, veil's registered Arrow UDF (veil.spark_functions);
- python:     a plain (pickled, row-at-a-time) Python UDF computing the same HMAC;
- sql_sha2:   HMAC composed from Spark's `sha2` with the pads as binary literals in the SQL.
              Forbidden in veil (the pads are the key): measured only to price that rule.

Runs are interleaved after one warm-up of each; prints medians and ratios to plain.
Scratch (warehouse, metastore, spill) goes to --dir.

    python scripts/bench/spark_udfs.py [--rows 1000000] [--runs 3] [--dir /tmp/spark/bench]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import shutil
import statistics
import sys
import time
from pathlib import Path

from veil.hmac_sql import hmac_pads
from veil.spark_functions import register_hmac

BENCH_KEY = bytes(range(32))   # a fixed benchmark key, not a secret


def session(base: Path):
    from pyspark.sql import SparkSession

    conf = {"spark.master": "local[2]", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "2", "spark.local.dir": str(base / "local"),
            "spark.sql.warehouse.dir": str(base / "warehouse"), "spark.driver.memory": "2g",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={base / 'derby'}",
            "spark.pyspark.python": sys.executable}
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/spark/bench"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    spark = session(args.dir)

    from pyspark.sql.functions import udf

    register_hmac(spark, BENCH_KEY)

    def row_hmac(value):
        return None if value is None else hmac.new(BENCH_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()

    spark.udf.register("bench_python_hmac", udf(row_hmac, "string", useArrow=False))
    ipad, opad = hmac_pads(BENCH_KEY)
    sql_hmac = (f"sha2(concat(X'{opad.hex()}', unhex(sha2(concat(X'{ipad.hex()}', encode(email, 'UTF-8')), 256))), "
                "256)")

    spark.sql(f"CREATE TABLE emails USING parquet AS SELECT concat('user', CAST(id AS STRING), '.', "
              f"CAST(id * 7919 % 100003 AS STRING), '@example.com') AS email FROM range(0, {args.rows}, 1, 2)")
    variants = {"plain": "email", "arrow": "veil_hmac_sha256(email)", "python": "bench_python_hmac(email)",
                "sql_sha2": sql_hmac}
    check = spark.sql(f"SELECT {', '.join(f'{sql} AS {name}' for name, sql in variants.items())} "
                      "FROM emails LIMIT 3").collect()
    for row in check:   # every keyed variant computes the same digest
        assert len({row[name] for name in variants if name != "plain"}) == 1, row

    def ctas(sql: str) -> float:
        spark.sql("DROP TABLE IF EXISTS bench_out")
        started = time.perf_counter()
        spark.sql(f"CREATE TABLE bench_out USING parquet AS SELECT {sql} AS v FROM emails")
        return time.perf_counter() - started

    for sql in variants.values():
        ctas(sql)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, sql in variants.items():
            times[name].append(ctas(sql))
    base = statistics.median(times["plain"])
    print(f"{args.rows:,} distinct emails, local[2], median of {args.runs} (interleaved):")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"  {name:10s} {median:7.2f} s  {median / base:5.1f}x plain   runs: "
              + ", ".join(f"{t:.2f}" for t in runs))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
