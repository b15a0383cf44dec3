"""The reference project's synthetic raw data, as parquet tables of a SparkSession.

The five tables are generated exactly as for DuckDB (`veil.demo.synthetic`,
in an in-memory DuckDB), written by DuckDB as parquet files into a scratch
folder and read by Spark into managed parquet tables of `database` (``raw``):
no row passes through Python, so ten million events load in seconds. A table
that exists is replaced. Column types follow DuckDB's (`SPARK_TYPES`), cast
on the way in, so Spark sees BIGINT where DuckDB has BIGINT, not what a
parquet reader infers.

    load(spark, users=2000, events=100_000)          # -> {'users': 2000, ...}

>>> spark_type("DECIMAL(12,2)"), spark_type("VARCHAR"), spark_type("TIMESTAMP")
('DECIMAL(12,2)', 'STRING', 'TIMESTAMP')
"""

from __future__ import annotations

import datetime
import re
import tempfile
from pathlib import Path

import duckdb
from sqlglot import exp

from veil.demo.statements import STATEMENTS
from veil.demo.synthetic import generate

SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT", "HUGEINT": "DECIMAL(38,0)", "UBIGINT": "DECIMAL(20,0)",
               "UINTEGER": "BIGINT", "USMALLINT": "INT", "UTINYINT": "SMALLINT", "BLOB": "BINARY",
               "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP"}


def spark_type(duck_type: str) -> str:
    """The Spark SQL type of a DuckDB column type (DECIMAL and the common ones keep their names)."""
    base = re.sub(r"\(.*", "", duck_type).strip()
    return SPARK_TYPES.get(duck_type, SPARK_TYPES.get(base, duck_type))


def load(spark, *, users: int = 2000, events: int = 100_000, payments: int | None = None,
         as_of: datetime.date | None = None, seed: int = 42, database: str = "raw") -> dict[str, int]:
    """(Re)create the five raw tables as parquet tables in `database` of `spark`; their row counts."""
    name = exp.to_identifier(database, quoted=True).sql(dialect="spark")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {name}")
    with tempfile.TemporaryDirectory(prefix="veil-spark-load-") as scratch, duckdb.connect() as duck:
        counts = generate(duck, users=users, events=events, payments=payments, as_of=as_of, seed=seed,
                          schema="raw")
        for table, _ in STATEMENTS:
            path = Path(scratch) / f"{table}.parquet"
            duck.execute(f"COPY raw.\"{table}\" TO '{path}' (FORMAT parquet)")
            columns = [(row[0], row[1]) for row in duck.execute(f'DESCRIBE raw."{table}"').fetchall()]
            frame = spark.read.parquet(str(path)).selectExpr(
                *(f"CAST(`{column}` AS {spark_type(kind)}) AS `{column}`" for column, kind in columns))
            frame.write.mode("overwrite").format("parquet").saveAsTable(f"{name}.`{table}`")
    return counts
