"""Where built models live in a DuckDB warehouse (dbt may put them in any schema)."""

from __future__ import annotations

import duckdb

from veil.errors import UsageError


def locate_models(con: duckdb.DuckDBPyConnection, catalog: str, names: list[str]) -> dict[str, str]:
    """Map each model name to its schema in `catalog`; UsageError if one is missing.

    A name found in several schemas resolves to the first in alphabetical order.
    """
    rows = con.execute(
        "SELECT table_name, min(table_schema) FROM information_schema.tables "
        "WHERE table_catalog = ? GROUP BY table_name", [catalog]).fetchall()
    found = {name.lower(): schema for name, schema in rows}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise UsageError(f"not built in the warehouse: {', '.join(missing)}; run `veil compile` and `dbt build` first")
    return {n: found[n.lower()] for n in names}
