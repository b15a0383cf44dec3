"""The reversible strategies as DuckDB functions: `fpe`, `tokenize`, `encrypt`.

Python UDFs over Arrow batches: DuckDB hands over a batch of values (2,048
rows) in one call, so the per-row cost is the cryptography itself. Within a
batch a repeated value is encrypted once for the deterministic ones (`fpe`,
`tokenize`). Keys stay in this process's memory: nothing reaches SQL text.

    veil_mask_fpe(value VARCHAR, keep_last INTEGER, luhn VARCHAR) -> VARCHAR
    veil_mask_tokenize(value VARCHAR, keep_last INTEGER, luhn VARCHAR, subject VARCHAR) -> VARCHAR
                                  -- subject: the row's data subject id as text, NULL to bind none
    veil_mask_encrypt(value VARCHAR, context VARCHAR) -> VARCHAR     -- context: '<table>.<column>'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping

import duckdb
import pyarrow as pa
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import INTEGER, VARCHAR

from veil.crypto.field import Sealer
from veil.crypto.fpe import FormatPreservingCipher
from veil.vault import shared_vault, vault_path

MISSING_KEYRING = "veil: this model needs keys: set VEIL_KEYRING (see `veil keys init`) or VEIL_KEY"


def _fixed_arity(udf: Callable[..., pa.Array], arity: int) -> Callable[..., pa.Array]:
    """DuckDB reads a UDF's parameter count from its signature: no *args."""
    if arity == 2:
        return lambda a, b: udf(a, b)
    if arity == 3:
        return lambda a, b, c: udf(a, b, c)
    if arity == 4:
        return lambda a, b, c, d: udf(a, b, c, d)
    raise ValueError(f"no UDF wrapper for {arity} parameters")


def _per_value(function: Callable[..., str | None], deterministic: bool) -> Callable[..., pa.Array]:
    """An Arrow UDF applying `function` to each row's values; NULL value in, NULL out."""

    def udf(*columns: pa.Array) -> pa.Array:
        rows = zip(*(column.to_pylist() for column in columns))
        if not deterministic:
            return pa.array([function(*row) if row[0] is not None else None for row in rows], type=pa.string())
        cache: dict[tuple, str | None] = {}
        out = []
        for row in rows:
            if row[0] is None:
                out.append(None)
                continue
            if row not in cache:
                cache[row] = function(*row)
            out.append(cache[row])
        return pa.array(out, type=pa.string())

    return udf


def _missing_keys(*_: object) -> str:
    raise RuntimeError(MISSING_KEYRING)


PARAMS = {"veil_mask_fpe": [VARCHAR, INTEGER, VARCHAR],
          "veil_mask_tokenize": [VARCHAR, INTEGER, VARCHAR, VARCHAR],
          "veil_mask_encrypt": [VARCHAR, VARCHAR]}


def crypto_udfs(keyring, env: Mapping[str, str] = os.environ) -> dict[str, tuple[Callable[..., pa.Array], bool]]:
    """name -> (Arrow UDF, side effects). Without keys, each raises a clear error when used."""
    if keyring is None:
        return {name: (_fixed_arity(_per_value(_missing_keys, True), len(params)), False)
                for name, params in PARAMS.items()}
    fpe_key = keyring.primary("fpe").material
    local = threading.local()   # an FF1 object holds one AES context: one per DuckDB thread

    def fpe(value: str, keep_last: int, luhn: str) -> str | None:
        if not hasattr(local, "cipher"):
            local.cipher = FormatPreservingCipher(fpe_key)
        return local.cipher.encrypt(value, keep_last=keep_last, luhn=luhn)

    sealer = Sealer(keyring.primary("encrypt"))
    return {
        "veil_mask_fpe": (_fixed_arity(_per_value(fpe, True), 3), False),
        "veil_mask_tokenize": (_batched_tokenize(keyring, env), True),    # writes new tokens to the vault
        "veil_mask_encrypt": (_fixed_arity(_per_value(sealer.seal, False), 2), True),   # a random nonce per call
    }


def _batched_tokenize(keyring, env: Mapping[str, str]) -> Callable[..., pa.Array]:
    """Tokenize a whole batch with one vault round trip per option pair (lookups, inserts, owners)."""
    path = vault_path(env)

    def udf(values: pa.Array, keep_last: pa.Array, luhn: pa.Array, subject: pa.Array) -> pa.Array:
        vals, keeps, lus, subjects = values.to_pylist(), keep_last.to_pylist(), luhn.to_pylist(), subject.to_pylist()
        out: list[str | None] = [None] * len(vals)
        groups: dict[tuple[int, str], list[int]] = {}
        for i, (k, lu) in enumerate(zip(keeps, lus)):
            groups.setdefault((k, lu), []).append(i)
        vault = shared_vault(path, keyring)
        for (k, lu), rows in groups.items():
            tokens = vault.tokenize([vals[i] for i in rows], k, lu, subjects=[subjects[i] for i in rows])
            for i, token in zip(rows, tokens):
                out[i] = token
        return pa.array(out, type=pa.string())

    return udf


def register_crypto_functions(conn: DuckDBPyConnection, keyring, env: Mapping[str, str] = os.environ) -> None:
    """Register the three functions on a connection (replacing earlier ones)."""
    for name, (udf, side_effects) in crypto_udfs(keyring, env).items():
        try:
            conn.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered yet
            pass
        try:
            conn.create_function(name, udf, PARAMS[name], VARCHAR, type="arrow", null_handling="special",
                                 side_effects=side_effects)
        except duckdb.CatalogException:
            pass   # a cursor shares its connection's catalog: the function is already there
