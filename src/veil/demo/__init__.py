"""The reference project's synthetic company: deterministic raw data in DuckDB.

>>> import duckdb
>>> from veil.demo import generate
>>> generate(duckdb.connect(), users=10, events=50, as_of=__import__("datetime").date(2025, 6, 30))["events"]
50
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate"]


def __getattr__(name: str) -> Any:
    # Imported on first use so that `python -m veil.demo.synthetic` does not
    # find its own module already loaded by the package.
    if name == "generate":
        from veil.demo.synthetic import generate

        return generate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
