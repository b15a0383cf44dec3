"""Benchmark: `veil classify`'s accuracy on a labelled benchmark, and its speed over a wide warehouse (issue 12).

Accuracy: `veil.classify.benchmark` generates 48 labelled tables (573
columns, eight domains in English, German, French and Spanish, misleading
and meaningless names, 12 held-out tables) from a fixed seed, classifies
them and prints precision and recall per classification and for "needs
protection" (DIRECT, QUASI, SENSITIVE) against "does not" (NON_PII,
PSEUDONYMOUS), exact-class accuracy and the time per 100 columns. It exits 1
when a target is missed: DIRECT_PII recall >= 0.97, precision >= 0.90,
exact-class accuracy >= 0.85.

Speed: generates TABLES tables of COLUMNS columns and ROWS rows in one DuckDB file
(emails, phones, names, SSNs, dates of birth, IPs, ZIP codes, free text,
amounts, flags, timestamps, ids; some under misleading names), then times,
in one process, interleaved, median of RUNS:

- baseline: the bare read veil's sampler does, `SELECT * FROM t USING SAMPLE
  reservoir(N ROWS) REPEATABLE (42)` fetched into Python for every table;
- classify: `veil.classify.classify_warehouse` (the same sample, every
  column's name rules and validators, subject and foreign-key detection).

Prints both and their ratio. The whole warehouse must classify in seconds.

    python scripts/bench/classify.py [--tables 200] [--columns 20] [--rows 5000] [--sample 2000] [--runs 3]
    python scripts/bench/classify.py --accuracy-only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from veil.classify import benchmark, classify_warehouse
from veil.classify.sample import quote
from veil.demo import vocabulary

# (column name, SQL of its values from row number i and table number $t)
TEMPLATES = (
    ("id", "i + 1"),
    ("customer_id", "1 + hash(i, $t, 'c') % 100000"),
    ("email", "lower(list_element($first, 1 + (hash(i, $t, 'f') % 50)::INT)) || '.' || i || '@example.com'"),
    ("phone", "printf('+1-%d-555-01%02d', 201 + hash(i, $t, 'a') % 700, hash(i, $t, 'l') % 100)"),
    ("full_name", "list_element($first, 1 + (hash(i, $t, 'f') % 50)::INT) || ' ' || "
                  "list_element($last, 1 + (hash(i, $t, 'n') % 50)::INT)"),
    ("ssn", "printf('%03d-%02d-%04d', 1 + hash(i, $t, 's') % 665, 1 + hash(i, $t, 'g') % 98, "
            "1 + hash(i, $t, 'r') % 9998)"),
    ("birth_date", "DATE '1940-01-01' + (hash(i, $t, 'b') % 23000)::INT"),
    ("ip_address", "printf('%d.%d.%d.%d', 1 + hash(i, $t, 1) % 254, hash(i, $t, 2) % 255, hash(i, $t, 3) % 255, "
                   "1 + hash(i, $t, 4) % 254)"),
    ("zip", "lpad((501 + hash(i, $t, 'z') % 99000)::VARCHAR, 5, '0')"),
    ("notes", "CASE WHEN hash(i, $t, 'x') % 20 = 0 THEN 'call back on +44 20 7946 0' || lpad((i % 1000)::VARCHAR, 3, "
              "'0') ELSE 'order ' || i || ' shipped on time' END"),
    ("amount", "(hash(i, $t, 'm') % 100000) / 100.0"),
    ("is_active", "hash(i, $t, 'v') % 2 = 0"),
    ("created_at", "TIMESTAMP '2024-01-01' + to_seconds((hash(i, $t, 't') % 31536000)::BIGINT)"),
    ("status", "list_element(['new', 'paid', 'shipped', 'returned'], 1 + (hash(i, $t, 'u') % 4)::INT)"),
    ("col_17", "printf('(%d) 555-01%02d', 201 + hash(i, $t, 'p') % 700, hash(i, $t, 'q') % 100)"),
    ("phone_verified", "hash(i, $t, 'w') % 3 = 0"),
    ("country", "list_element(['US', 'DE', 'FR', 'ES', 'GB'], 1 + (hash(i, $t, 'k') % 5)::INT)"),
    ("device_id", "md5((i * 31 + $t)::VARCHAR)"),
    ("latitude", "round(-60 + (hash(i, $t, 'y') % 130000000) / 1000000.0, 6)"),
    ("quantity", "1 + hash(i, $t, 'o') % 9"),
)


def build(path: Path, tables: int, columns: int, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        params = {"first": list(vocabulary.FIRST_NAMES), "last": list(vocabulary.LAST_NAMES)}
        for t in range(tables):
            picked = [TEMPLATES[(t * 7 + k) % len(TEMPLATES)] for k in range(columns)]
            select = ", ".join(f"{sql.replace('$t', str(t))} AS {quote(f'{name}_{k}' if k >= len(TEMPLATES) else name)}"
                               for k, (name, sql) in enumerate(picked))
            con.execute(f"CREATE TABLE raw.t{t:03d} AS SELECT {select} FROM range({rows}) AS r(i)", params)


def baseline(path: Path, sample: int) -> float:
    """The bare sampled read of every table, as veil's sampler issues it."""
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS veil_wh (READ_ONLY)")
    names = con.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = "
                        "'veil_wh' ORDER BY 1, 2").fetchall()
    for schema, name in names:
        con.execute(f"SELECT * FROM veil_wh.{quote(schema)}.{quote(name)} "
                    f"USING SAMPLE reservoir({sample} ROWS) REPEATABLE (42)").fetchall()
    con.close()
    return time.perf_counter() - started


def classify(path: Path, sample: int) -> tuple[float, int]:
    started = time.perf_counter()
    result = classify_warehouse(path, rows=sample)
    return time.perf_counter() - started, len(result.columns())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--sample", type=int, default=2000, help="rows sampled per table (veil's default)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accuracy-only", action="store_true", help="only the labelled benchmark")
    args = parser.parse_args()
    failed = accuracy()
    if args.accuracy_only:
        return failed
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.duckdb"
        started = time.perf_counter()
        build(path, args.tables, args.columns, args.rows)
        print(f"generated {args.tables} tables x {args.columns} columns x {args.rows:,} rows "
              f"({args.tables * args.columns * args.rows:,} values) in {time.perf_counter() - started:.1f}s")
        baseline(path, args.sample)                       # warm-up of both
        classify(path, args.sample)
        base_times, classify_times = [], []
        columns = 0
        for _ in range(args.runs):
            base_times.append(baseline(path, args.sample))
            seconds, columns = classify(path, args.sample)
            classify_times.append(seconds)
    base, took = statistics.median(base_times), statistics.median(classify_times)
    print(f"\n{args.tables * args.columns:,} columns, sample {args.sample:,} rows per table, median of {args.runs} runs")
    print(f"  {'bare SELECT * ... USING SAMPLE of every table (baseline)':<62} {base:7.2f}s  1.00x")
    print(f"  {'veil classify (' + str(columns) + ' columns classified)':<62} {took:7.2f}s  {took / base:.2f}x")
    print(f"  per 100 columns: {took / max(columns, 1) * 100:.3f} s")
    return failed


TARGETS = (("DIRECT_PII recall", 0.97), ("DIRECT_PII precision", 0.90), ("exact-class accuracy", 0.85))


def accuracy() -> int:
    """The labelled benchmark's figures; 1 when a target is missed."""
    outcome = benchmark.evaluate()
    print(benchmark.report(outcome))
    direct = next(s for s in outcome.by_classification() if s.label == "DIRECT_PII")
    got = dict(zip((t for t, _ in TARGETS), (direct.recall, direct.precision, outcome.accuracy())))
    missed = [f"{name} {got[name]:.3f} < {target}" for name, target in TARGETS if got[name] < target]
    print("\ntargets: " + ("; ".join(missed) if missed else "all met (" + ", ".join(
        f"{name} {got[name]:.3f} >= {target}" for name, target in TARGETS) + ")") + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
