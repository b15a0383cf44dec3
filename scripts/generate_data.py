"""Generate the reference project's raw tables into a DuckDB file.

The same as ``python -m veil.demo.synthetic``; every option is passed through.

    python scripts/generate_data.py --db dev.duckdb --users 2000 --events 100000 --as-of 2025-06-30
"""

from __future__ import annotations

from veil.demo.synthetic import main

if __name__ == "__main__":
    raise SystemExit(main())
