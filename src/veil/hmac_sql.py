"""The keyed SQL functions on DuckDB: `veil_hmac_sha256(VARCHAR) -> VARCHAR` and its kin.

The key lives only in this Python process: each function is a vectorized
(Arrow) Python UDF that closes over its key, so no table, macro, setting or
catalog entry holds key material, and no SQL (a dbt model, `dbt show`, an
analyst's query on a veil connection) can read it. SQL can still *call* the
functions on a connection they are registered on: that is how masked models
compute pseudonyms, and why `veil lint` (VL903) flags any other caller.

- `veil_hmac_sha256(x)`: hex HMAC-SHA256 of the UTF-8 bytes of `CAST(x AS VARCHAR)`,
  under veil's pseudonym key (the keyring's `hmac` key): `hash`, `domain_only`;
- `veil_hmac_sha256_blob(b)`: the same over a BLOB as it is;
- `veil_subject_digest(x)`: the same construction under a key derived for
  subject digests (`subject_digest_key`), for snapshot manifests, so a
  manifest's erased-subject digests never equal anyone's pseudonym.

Keyed masks run once per distinct value (the compiled model deduplicates
them first), which is what keeps a Python UDF within the masked-build target.

>>> import duckdb, hmac, hashlib
>>> conn = duckdb.connect()
>>> register_hmac(conn, bytes(32))
>>> expected = hmac.new(bytes(32), b"abc", hashlib.sha256).hexdigest()
>>> conn.execute("SELECT veil_hmac_sha256('abc')").fetchone()[0] == expected
True
>>> conn.execute("SELECT veil_subject_digest('abc')").fetchone()[0] == expected
False
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

HMAC_FUNCTION = "veil_hmac_sha256"
HMAC_BLOB_FUNCTION = "veil_hmac_sha256_blob"  # the same over raw bytes (BLOB)
DIGEST_FUNCTION = "veil_subject_digest"       # subject digests of snapshot manifests, under their own key
MISSING_KEY_MESSAGE = "veil: this model needs a key: set VEIL_KEY or VEIL_KEY_FILE (see `veil keys`)"
SUBJECT_DIGEST_LABEL = b"veil/subject-digest/v1"

_BLOCK_SIZE = 64  # SHA-256 block size in bytes, as HMAC defines it


def subject_digest_key(key: bytes) -> bytes:
    """The key of subject digests, derived from the pseudonym key with HKDF-SHA256 under its own label.

    >>> subject_digest_key(bytes(32)) != bytes(32), len(subject_digest_key(bytes(32)))
    (True, 32)
    """
    return HKDF(hashes.SHA256(), 32, None, SUBJECT_DIGEST_LABEL).derive(key)


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


def _keyed(key: bytes | None, blob: bool) -> Callable[[pa.Array], pa.Array]:
    """An Arrow UDF body: hex HMAC-SHA256 of each value under `key` (NULL stays NULL)."""
    if key is not None:
        # HMAC(K, m) = H(opad || H(ipad || m)), from hash states that already absorbed each pad:
        # about twice as fast per value as hmac.digest, which sets the key up again every call
        ipad, opad = hmac_pads(key)
        inner_state, outer_state = hashlib.sha256(ipad), hashlib.sha256(opad)

    def mac(message: bytes) -> str:
        inner = inner_state.copy()
        inner.update(message)
        outer = outer_state.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def run(values: pa.Array) -> pa.Array:
        if key is None:
            if len(values):
                raise RuntimeError(MISSING_KEY_MESSAGE)
            return pa.array([], pa.string())
        out = [None if value is None else mac(value if blob else value.encode("utf-8"))
               for value in values.to_pylist()]
        return pa.array(out, pa.string())
    return run


def register_hmac(conn: DuckDBPyConnection, key: bytes | None) -> None:
    """Create (or replace) the keyed functions on this DuckDB connection.

    `veil_hmac_sha256(x)` hashes the UTF-8 bytes of `CAST(x AS VARCHAR)`; its
    companion `veil_hmac_sha256_blob(b)` hashes a BLOB as it is;
    `veil_subject_digest(x)` is the text one under the subject-digest key. NULL
    in gives NULL out. With `key=None` they exist but raise MISSING_KEY_MESSAGE
    on any row they are applied to (NULL included), so a model that needs a
    key fails clearly and models that do not are unaffected.

    >>> import duckdb
    >>> conn = duckdb.connect()
    >>> register_hmac(conn, None)
    >>> conn.execute("SELECT 1").fetchone()
    (1,)
    """
    import duckdb
    from duckdb.sqltypes import BLOB, VARCHAR

    digest_key = subject_digest_key(key) if key is not None else None
    for name, body, parameter in ((f"{HMAC_FUNCTION}_text", _keyed(key, False), VARCHAR),
                                  (HMAC_BLOB_FUNCTION, _keyed(key, True), BLOB),
                                  (f"{DIGEST_FUNCTION}_text", _keyed(digest_key, False), VARCHAR)):
        try:
            conn.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered yet on this connection
            pass
        try:
            conn.create_function(name, body, [parameter], VARCHAR, type="arrow", null_handling="special",
                                 side_effects=False)
        except duckdb.CatalogException:
            pass   # a cursor shares its connection's catalog: the function is already there
    for name in (HMAC_FUNCTION, DIGEST_FUNCTION):   # any type in, as its VARCHAR text (no key in the macro)
        conn.execute(f"CREATE OR REPLACE TEMP MACRO {name}(x) AS {name}_text(CAST(x AS VARCHAR))")
