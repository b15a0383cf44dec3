"""Benchmark: the analyst events model vs a plain CREATE TABLE AS SELECT.

Generates a synthetic warehouse (default 5M events, 100k users), renders the
generated `analyst__events` model exactly as veil compiles it (reference
policies), and times, in one DuckDB process, alternating:

- plain:  CREATE TABLE AS SELECT <the model's columns> FROM raw.events
- keyed:  the model as compiled (device_id hashed with HMAC-SHA256, IP subnet,
          erasure anti-join)
- unkeyed: the same model with device_id passed raw (no keyed column)

and prints each as a ratio of the plain copy (median of the runs).
Targets (issue 2): keyed at most 3x, unkeyed at most 1.5x.

    python scripts/bench/masked_build.py [--events 5000000] [--users 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from veil.compile.offline import render_offline
from veil.compile.plan import Action, ColumnDecision, ModelPlan, plan_project
from veil.compile.render_macros import render_macros
from veil.compile.render_model import build_model_query
from veil.demo.synthetic import generate
from veil.hmac_sql import register_hmac
from veil.policy.load import load_policies

REPO = Path(__file__).resolve().parents[2]
BENCH_KEY = bytes(range(32))   # a fixed benchmark key, not a secret


def _without_keyed(model: ModelPlan) -> ModelPlan:
    """The same model with every keyed column passed through raw."""
    decisions = tuple(
        ColumnDecision(d.column, Action.RAW, "benchmark: raw") if d.action is Action.MASK and d.strategy == "hash"
        else d for d in model.decisions)
    return dataclasses.replace(model, decisions=decisions)


def _sql(model: ModelPlan, macros: dict[str, str]) -> str:
    return render_offline(build_model_query(model, model_policies).sql(dialect="duckdb"), macros)


def _time(con: duckdb.DuckDBPyConnection, select_sql: str) -> float:
    con.execute("DROP TABLE IF EXISTS bench_out")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE bench_out AS {select_sql}")
    return time.perf_counter() - started


def main() -> int:
    global model_policies
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    model_policies = load_policies(REPO)
    plan = plan_project(model_policies)
    model = next(m for m in plan.models if m.name == "analyst__events")
    macros = render_macros(model_policies)
    variants = {"keyed": _sql(model, macros), "unkeyed": _sql(_without_keyed(model), macros)}
    columns = ", ".join(d.name for d in model.kept)
    plain = f"SELECT {columns} FROM raw.events"

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        started = time.perf_counter()
        counts = generate(con, users=args.users, events=args.events, as_of=date(2026, 11, 1))
        print(f"generated {counts} in {time.perf_counter() - started:.1f}s")
        register_hmac(con, BENCH_KEY)
        times: dict[str, list[float]] = {"plain": [], **{name: [] for name in variants}}
        _time(con, plain)   # warm-up: pages in the source columns
        for _ in range(args.runs):
            times["plain"].append(_time(con, plain))
            for name, sql in variants.items():
                times[name].append(_time(con, sql))
        con.close()

    base = statistics.median(times["plain"])
    print(f"\nanalyst__events, {args.events:,} events, {args.users:,} users, median of {args.runs} runs")
    print(f"  plain CTAS           {base:7.3f}s   1.00x")
    targets = {"keyed": 3.0, "unkeyed": 1.5}
    ok = True
    for name in variants:
        value = statistics.median(times[name])
        ratio = value / base
        ok &= ratio <= targets[name]
        print(f"  {name:<8} model       {value:7.3f}s   {ratio:4.2f}x  (target <= {targets[name]}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
