"""veil's SQL functions on a DuckDB connection: HMAC and the masking functions.

`veil_mask_<strategy>(x)` exists as a DuckDB temporary macro for every
strategy that has a body (all but `drop` and `null`), so compiled SQL calls a
named function: the linter sees `veil_mask_domain_only(email)` and knows the
column is masked, and DuckDB inlines the macro, so it costs what the
expression costs. The dbt-duckdb plugin registers them on every connection.

>>> import duckdb
>>> con = duckdb.connect()
>>> register_functions(con, None)
>>> con.execute("SELECT veil_mask_last4('123-45-6789'), veil_mask_zip3('03601')").fetchone()
('XXX-XX-6789', '000')
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection
from sqlglot import exp

from veil.hmac_sql import register_hmac
from veil.strategies import STRATEGIES, MaskContext

ARGUMENT = "x"
NO_FUNCTION = {"drop", "null"}   # drop removes the column; null needs the column's type


def mask_function(strategy: str) -> str:
    """The SQL function name of a strategy: `veil_mask_<strategy>`."""
    return f"veil_mask_{strategy}"


def function_strategies() -> list[str]:
    """Strategies that exist as SQL functions."""
    return [name for name in sorted(STRATEGIES) if name not in NO_FUNCTION]


def macro_body(strategy: str) -> str:
    """The DuckDB SQL of `veil_mask_<strategy>(x)`."""
    return STRATEGIES[strategy].build(exp.column(ARGUMENT), MaskContext()).sql(dialect="duckdb")


def register_functions(conn: DuckDBPyConnection, key: bytes | None) -> None:
    """Register the keyed HMAC and every masking function (idempotent)."""
    register_hmac(conn, key)
    for strategy in function_strategies():
        conn.execute(f"CREATE OR REPLACE TEMP MACRO {mask_function(strategy)}({ARGUMENT}) AS {macro_body(strategy)}")
