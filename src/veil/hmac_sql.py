"""The keyed SQL function `veil_hmac_sha256(VARCHAR) -> VARCHAR` on DuckDB.

HMAC-SHA256 is computed in SQL with DuckDB's native `sha256` over BLOBs,
about five times faster than a Python UDF (DESIGN.md, "Facts measured here"):

    HMAC(K, m) = sha256(opad || unhex(sha256(ipad || m)))

The key never enters SQL text: its inner and outer pads are computed here and
inserted as parameters into a per-connection TEMP table that the TEMP macro
reads. Temp objects live in one connection, so register on every connection
and cursor (the dbt-duckdb plugin does).

>>> import duckdb, hmac, hashlib
>>> conn = duckdb.connect()
>>> register_hmac(conn, bytes(32))
>>> expected = hmac.new(bytes(32), b"abc", hashlib.sha256).hexdigest()
>>> conn.execute("SELECT veil_hmac_sha256('abc')").fetchone()[0] == expected
True
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

HMAC_FUNCTION = "veil_hmac_sha256"
HMAC_BLOB_FUNCTION = "veil_hmac_sha256_blob"  # the same over raw bytes (BLOB)
KEY_TABLE = "veil_hmac_key"
MISSING_KEY_MESSAGE = "veil: this model needs a key: set VEIL_KEY or VEIL_KEY_FILE (see `veil keys`)"

_BLOCK_SIZE = 64  # SHA-256 block size in bytes, as HMAC defines it
_QUALIFIED_KEY_TABLE = f"temp.main.{KEY_TABLE}"  # never a user table of the same name

# Uncorrelated scalar subqueries: DuckDB reads each pad once per query.
_KEYED_BLOB_BODY = (
    f"sha256((SELECT opad FROM {_QUALIFIED_KEY_TABLE})"
    f" || unhex(sha256((SELECT ipad FROM {_QUALIFIED_KEY_TABLE}) || x)))"
)
# The CAST matters: a bare error() is typed NULL, and DuckDB then folds
# `'user_' || error(...)` to NULL without ever raising.
_KEYLESS_BODY = f"CAST(error('{MISSING_KEY_MESSAGE}') AS VARCHAR)"
_TEXT_BODY = f"{HMAC_BLOB_FUNCTION}(encode(CAST(x AS VARCHAR)))"


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The HMAC inner and outer pads of `key` (RFC 2104), 64 bytes each.

    Keys longer than the block are hashed first, as HMAC requires.

    >>> ipad, opad = hmac_pads(b"k")
    >>> ipad[:2].hex(), opad[:2].hex(), len(ipad)
    ('5d36', '375c', 64)
    """
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def register_hmac(conn: DuckDBPyConnection, key: bytes | None) -> None:
    """Create (or replace) `veil_hmac_sha256(x)` on this DuckDB connection.

    It hashes the UTF-8 bytes of `CAST(x AS VARCHAR)`; its companion
    `veil_hmac_sha256_blob(b)` hashes a BLOB as it is. NULL in gives NULL
    out. With `key=None` both exist but raise MISSING_KEY_MESSAGE on any row
    they are applied to (NULL included), so a model that needs a key fails
    clearly and models that do not are unaffected. A query that applies them
    to no rows at all does not fail.

    >>> import duckdb
    >>> conn = duckdb.connect()
    >>> register_hmac(conn, None)
    >>> conn.execute("SELECT 1").fetchone()
    (1,)
    """
    if key is None:
        conn.execute(f"DROP TABLE IF EXISTS {_QUALIFIED_KEY_TABLE}")
        blob_body = _KEYLESS_BODY
    else:
        ipad, opad = hmac_pads(key)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {KEY_TABLE} (ipad BLOB, opad BLOB)")
        conn.execute(f"INSERT INTO {_QUALIFIED_KEY_TABLE} VALUES (?, ?)", [ipad, opad])
        blob_body = _KEYED_BLOB_BODY
    conn.execute(f"CREATE OR REPLACE TEMP MACRO {HMAC_BLOB_FUNCTION}(x) AS {blob_body}")
    conn.execute(f"CREATE OR REPLACE TEMP MACRO {HMAC_FUNCTION}(x) AS {_TEXT_BODY}")
