"""Benchmark: the analyst events model vs a plain CREATE TABLE AS SELECT (issue 2).

Generates a synthetic warehouse (default 5M events, 100k users), renders the
generated `analyst__events` model exactly as veil compiles it (reference
policies, erasure filter only: consent and retention have their own
benchmark), and times in one DuckDB process:

- plain:   CREATE TABLE AS SELECT <the model's columns> FROM raw.events
- keyed:   the model (device_id HMAC-SHA256, IP subnet, erasure anti-join)
- unkeyed: the same model with device_id passed raw (no keyed column)

Targets: keyed at most 3x the plain copy, unkeyed at most 1.5x.

    python scripts/bench/masked_build.py [--events 5000000] [--users 100000] [--runs 3]
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

from common import compare, model_sql, parse_args, reference_plan, report, warehouse
from veil.compile.plan import Action, ColumnDecision, ModelPlan

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


def main() -> int:
    args = parse_args(__doc__)

    plan = reference_plan()
    model = next(m for m in plan.models if m.name == "analyst__events")
    variants = {
        "plain": f"SELECT {', '.join(d.name for d in model.kept)} FROM raw.events",
        "keyed": model_sql(plan, model, filter_kinds=ERASURE_ONLY),
        "unkeyed": model_sql(plan, without_keyed(model), filter_kinds=ERASURE_ONLY),
    }
    with tempfile.TemporaryDirectory() as tmp:
        con = warehouse(Path(tmp) / "bench.duckdb", args.users, args.events)
        medians = compare(con, variants, args.runs)
        con.close()
    ok = report(f"analyst__events, {args.events:,} events, {args.users:,} users, median of {args.runs} runs",
                medians, "plain", {"keyed": 3.0, "unkeyed": 1.5}, DESCRIPTIONS.get)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
