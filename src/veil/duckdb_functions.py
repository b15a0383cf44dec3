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

import os
from collections.abc import Mapping

from duckdb import DuckDBPyConnection
from sqlglot import exp

from veil.duckdb_udfs import register_crypto_functions
from veil.hmac_sql import register_hmac
from veil.strategies import STRATEGIES, MaskContext

ARGUMENT = "x"
NO_FUNCTION = {"drop", "null"}   # drop removes the column; null needs the column's type


def mask_function(strategy: str) -> str:
    """The SQL function name of a strategy: `veil_mask_<strategy>`."""
    return f"veil_mask_{strategy}"


def function_strategies() -> list[str]:
    """Strategies that exist as SQL functions."""
    return [name for name in sorted(STRATEGIES) if name not in NO_FUNCTION and not STRATEGIES[name].reversible]


def macro_body(strategy: str) -> str:
    """The DuckDB SQL of `veil_mask_<strategy>(x)`."""
    return STRATEGIES[strategy].build(exp.column(ARGUMENT), MaskContext()).sql(dialect="duckdb")


def as_keyring(keys):
    """A Keyring from a Keyring, raw 32-byte key (as VEIL_KEY would give) or None."""
    if isinstance(keys, (bytes, bytearray)):
        from veil.keyring import keyring_from_key

        return keyring_from_key(bytes(keys))
    return keys


def register_functions(conn: DuckDBPyConnection, keys, env: Mapping[str, str] = os.environ) -> None:
    """Register the keyed HMAC, every masking function and the reversible ones (idempotent).

    `keys`: a veil.keyring.Keyring, a raw 32-byte key, or None (keyed functions then fail when used).
    """
    keyring = as_keyring(keys)
    register_hmac(conn, keyring.primary("hmac").material if keyring is not None else None)
    register_crypto_functions(conn, keyring, env)
    for strategy in function_strategies():
        conn.execute(f"CREATE OR REPLACE TEMP MACRO {mask_function(strategy)}({ARGUMENT}) AS {macro_body(strategy)}")
