"""Shared pieces of the benchmarks: a synthetic warehouse, generated SQL, timing.

Every benchmark times its variants in one DuckDB process, interleaved, and
reports medians as ratios against a baseline of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from veil.compile import render_project
from veil.compile.offline import render_offline
from veil.compile.plan import ModelPlan, ProjectPlan, plan_project
from veil.compile.render_model import build_model_query
from veil.demo.synthetic import generate
from veil.duckdb_functions import register_functions
from veil.policy.load import load_policies

REPO = Path(__file__).resolve().parents[2]
BENCH_KEY = bytes(range(32))       # a fixed benchmark key, not a secret
AS_OF = date(2026, 11, 1)
CLOCK = {"veil_as_of": AS_OF.isoformat()}


def parse_args(doc: str, configure: Callable[[argparse.ArgumentParser], None] | None = None,
               events: int | None = 5_000_000) -> argparse.Namespace:
    """The options every warehouse benchmark takes: sizes and runs (`configure` adds a script's own)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    if configure is not None:
        configure(parser)
    return parser.parse_args()


def reference_plan() -> ProjectPlan:
    return plan_project(load_policies(REPO))


def macros_of(plan: ProjectPlan) -> dict[str, str]:
    return {path: text for path, text in render_project(plan).items() if path.startswith("macros/")}


def model_sql(plan: ProjectPlan, model: ModelPlan, dialect: str = "duckdb", **query_options) -> str:
    """The model's SELECT exactly as veil generates it, rendered for `dialect` (duckdb or postgres)."""
    query = build_model_query(model, plan.policies, **query_options).sql(dialect=dialect)
    return render_offline(query, macros_of(plan), dialect=dialect, variables=CLOCK)


def warehouse(path: Path, users: int, events: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    started = time.perf_counter()
    counts = generate(con, users=users, events=events, as_of=AS_OF)
    print(f"generated {counts} in {time.perf_counter() - started:.1f}s")
    register_functions(con, BENCH_KEY)
    return con


def time_ctas(con: duckdb.DuckDBPyConnection, select_sql: str) -> float:
    con.execute("DROP TABLE IF EXISTS bench_out")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE bench_out AS {select_sql}")
    return time.perf_counter() - started


def compare(con: duckdb.DuckDBPyConnection, variants: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds per variant, runs interleaved after one warm-up of each."""
    for sql in variants.values():
        time_ctas(con, sql)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, sql in variants.items():
            times[name].append(time_ctas(con, sql))
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, medians: dict[str, float], baseline: str, targets: dict[str, float],
           describe: Callable[[str], str] = str) -> bool:
    """Print each variant as a ratio of the baseline; True when every target holds."""
    base = medians[baseline]
    print(f"\n{title}")
    ok = True
    for name, value in medians.items():
        ratio = value / base
        target = targets.get(name)
        verdict = f"  (target <= {target}x)" if target else ""
        ok &= target is None or ratio <= target
        print(f"  {describe(name):<58} {value:7.3f}s  {ratio:5.2f}x{verdict}")
    return ok
