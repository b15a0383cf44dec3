"""Benchmark: consent and retention filters on the analyst events model (issue 3).

Generates 5M events for 100k subjects with several consent decisions each,
builds the current-consent model once, then times in one DuckDB process the
generated `analyst__events` model with its consent and retention filters
against the same model without them (masking and erasure in both).
Target: filtered at most 1.3x unfiltered.

    python scripts/bench/consent_retention.py [--events 5000000] [--users 100000] [--runs 3]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import CLOCK, compare, macros_of, model_sql, parse_args, reference_plan, report, warehouse
from veil.compile import render_project
from veil.compile.offline import render_offline

DESCRIPTIONS = {
    "unfiltered": "analyst model without consent and retention filters",
    "filtered": "analyst model with consent (opt_out) and retention",
}


def main() -> int:
    args = parse_args(__doc__)

    plan = reference_plan()
    model = next(m for m in plan.models if m.name == "analyst__events")
    variants = {
        "unfiltered": model_sql(plan, model, filter_kinds=("erasure",)),
        "filtered": model_sql(plan, model),
    }
    consent_sql = render_offline(render_project(plan)["models/veil/veil_consent_current.sql"],
                                 macros_of(plan), variables=CLOCK)
    with tempfile.TemporaryDirectory() as tmp:
        con = warehouse(Path(tmp) / "bench.duckdb", args.users, args.events)
        decisions = con.execute("SELECT count(*) FROM raw.consent_events").fetchone()[0]
        started = time.perf_counter()
        con.execute(f"CREATE TABLE veil_consent_current AS {consent_sql}")
        consent_seconds = time.perf_counter() - started
        medians = compare(con, variants, args.runs)
        kept = {name: con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0] for name, sql in variants.items()}
        con.close()
    print(f"current consent from {decisions:,} decisions built once in {consent_seconds:.3f}s")
    print(f"rows kept: unfiltered {kept['unfiltered']:,}, filtered {kept['filtered']:,}")
    ok = report(f"analyst__events, {args.events:,} events, {args.users:,} subjects, median of {args.runs} runs",
                medians, "unfiltered", {"filtered": 1.3}, DESCRIPTIONS.get)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
