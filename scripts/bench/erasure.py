"""Benchmark: erasing 10k subjects vs 1, and vs a per-subject DELETE loop (issue 6).

Generates a warehouse (default 10M events, 200k users, 400k payments), then in
one run, each on its own copy of the file:

- `veil erase` with 1 pending request;
- `veil erase` with 10k pending requests (events, users, consent log deleted,
  payments anonymized, audit trail, physical rewrite: the whole job);
- the same deletions as set-based statements (one `DELETE ... WHERE user_id IN
  (<10k>)` per table), the work the loop does, without veil's journal,
  anonymization and physical rewrite;
- a per-subject loop of `DELETE ... WHERE user_id = ?` over events, users and
  payments, timed on a sample of subjects and extrapolated to 10k (running it
  for all 10k would take the better part of an hour).

Subject resolution is part of the job: the project also has a child table
`raw.refunds` that reaches its subject only through `payment_id -> payments`
(`subject: {via: ...}`), and a dbt model `main.dim_events` (10M rows, the
subject column renamed `customer_id`) that veil identifies through column
lineage from the manifest's compiled SQL.

Targets: 10k at most 2x the time of 1 (cost is one pass per table); at least
100x faster than the loop.

    python scripts/bench/erasure.py [--events 10000000] [--users 200000] [--erase 10000] [--sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from veil.demo.synthetic import generate
from veil.erasure.run import run_erasure
from veil.project import Project

REPO = Path(__file__).resolve().parents[2]
BENCH_KEY_HEX = bytes(range(32)).hex()   # a fixed benchmark key, not a secret


def _requests(path: Path, count: int) -> list[int]:
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM raw.deletion_requests")
        con.execute("INSERT INTO raw.deletion_requests SELECT row_number() OVER (), user_id, "
                    "TIMESTAMP '2026-10-01', 'GDPR' FROM (SELECT user_id FROM raw.users ORDER BY hash(user_id) "
                    f"LIMIT {count})")
        return [r[0] for r in con.execute("SELECT user_id FROM raw.deletion_requests").fetchall()]


def _erase(base: Path, work: Path, count: int) -> tuple[float, int, dict[str, float]]:
    copy = work / f"erase_{count}.duckdb"
    shutil.copy(base, copy)
    _requests(copy, count)
    env = {**os.environ, "VEIL_KEY": BENCH_KEY_HEX, "VEIL_AUDIT_DB": str(work / f"audit_{count}.duckdb"),
           "VEIL_VAULT": str(work / "no_vault.duckdb")}
    env.pop("VEIL_KEYRING", None)
    started = time.perf_counter()
    result = run_erasure(Project.load(work / "project", env=env, database=copy))
    seconds = time.perf_counter() - started
    assert len(result.completed) == count, (len(result.completed), count)
    return seconds, sum(o.rows for o in result.outcomes), result.seconds


def _set_based(base: Path, work: Path, subjects: list[int]) -> float:
    copy = work / "set.duckdb"
    shutil.copy(base, copy)
    with duckdb.connect(str(copy)) as con:
        started = time.perf_counter()
        con.execute("DELETE FROM raw.refunds WHERE payment_id IN (SELECT payment_id FROM raw.payments "
                    "WHERE user_id IN (SELECT unnest(?)))", [subjects])
        con.execute("DELETE FROM main.dim_events WHERE customer_id IN (SELECT unnest(?))", [subjects])
        for table in ("raw.events", "raw.users", "raw.payments"):
            con.execute(f"DELETE FROM {table} WHERE user_id IN (SELECT unnest(?))", [subjects])
        return time.perf_counter() - started


def _loop(base: Path, work: Path, subjects: list[int]) -> float:
    copy = work / "loop.duckdb"
    shutil.copy(base, copy)
    with duckdb.connect(str(copy)) as con:
        started = time.perf_counter()
        for subject in subjects:
            con.execute("DELETE FROM raw.refunds WHERE payment_id IN (SELECT payment_id FROM raw.payments "
                        "WHERE user_id = ?)", [subject])
            con.execute("DELETE FROM main.dim_events WHERE customer_id = ?", [subject])
            for table in ("raw.events", "raw.users", "raw.payments"):
                con.execute(f"DELETE FROM {table} WHERE user_id = ?", [subject])
        return time.perf_counter() - started


DIM_EVENTS_SQL = "SELECT e.event_id, e.user_id AS customer_id, e.event_type, e.event_ts FROM raw.events AS e"
DIM_EVENTS_CTAS = f"CREATE TABLE main.dim_events AS {DIM_EVENTS_SQL}"
REFUNDS_POLICY = """table: refunds
relation: "source('raw', 'refunds')"
subject: {via: payment_id, relation: "source('raw', 'payments')", key: payment_id}
schema:
  - {name: refund_id, type: BIGINT, pii_classification: NON_PII}
  - {name: payment_id, type: BIGINT, pii_classification: NON_PII}
  - {name: amount, type: DECIMAL, pii_classification: NON_PII}
"""


def _project(root: Path) -> None:
    """The reference policies plus a `via` table, and a manifest with one model traced by lineage."""
    shutil.copytree(REPO / "policies", root / "policies")
    (root / "policies/tables/refunds.yml").write_text(REFUNDS_POLICY)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, root / name)
    names = ("users", "events", "payments", "consent_events", "deletion_requests", "refunds")
    sources = {f"source.b.raw.{n}": {"unique_id": f"source.b.raw.{n}", "resource_type": "source",
                                     "source_name": "raw", "name": n, "schema": "raw", "identifier": n}
               for n in names}
    model = {"unique_id": "model.b.dim_events", "resource_type": "model", "name": "dim_events", "schema": "main",
             "alias": "dim_events", "config": {"materialized": "table"}, "compiled_code": DIM_EVENTS_SQL,
             "depends_on": {"nodes": ["source.b.raw.events"]}}
    (root / "target").mkdir()
    (root / "target/manifest.json").write_text(json.dumps({"nodes": {model["unique_id"]: model}, "sources": sources}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--erase", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _project(work / "project")
        base = work / "base.duckdb"
        with duckdb.connect(str(base)) as con:
            started = time.perf_counter()
            counts = generate(con, users=args.users, events=args.events)
            con.execute("CREATE TABLE raw.refunds AS SELECT payment_id * 10 AS refund_id, payment_id, amount "
                        "FROM raw.payments WHERE payment_id % 4 = 0")
            con.execute(DIM_EVENTS_CTAS)
            print(f"generated {counts} in {time.perf_counter() - started:.1f}s "
                  f"({base.stat().st_size / 1e6:.0f} MB)")
        one, one_rows, one_parts = _erase(base, work, 1)
        many, many_rows, many_parts = _erase(base, work, args.erase)
        subjects = _requests(base, args.erase)
        set_based = _set_based(base, work, subjects)
        loop = _loop(base, work, subjects[:args.sample]) * args.erase / args.sample
    ratio, speedup, statement_speedup = many / one, loop / many, loop / set_based
    print(f"\nveil erase, 1 subject       {one:8.2f}s  ({one_rows} rows; systems {one_parts['systems']:.2f}s, "
          f"physical rewrite {one_parts['rewrite']:.2f}s)")
    print(f"veil erase, {args.erase:,} subjects {many:8.2f}s  ({many_rows:,} rows; systems "
          f"{many_parts['systems']:.2f}s, physical rewrite {many_parts['rewrite']:.2f}s)   "
          f"ratio {ratio:.2f}x (target <= 2x)")
    print(f"set-based DELETEs, {args.erase:,}    {set_based:8.2f}s")
    print(f"per-subject DELETE loop     {loop:8.1f}s  (extrapolated from {args.sample} subjects)")
    print(f"  the loop vs set-based DELETEs (same work): {statement_speedup:.0f}x  (target >= 100x)")
    print(f"  the loop vs the whole veil erase (journal, anonymize, consent log, rewrite): {speedup:.0f}x")
    return 0 if ratio <= 2 and statement_speedup >= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
