"""veil's keyed SQL functions in a SparkSession, with the key in Python only.

The same functions DuckDB gets (veil.hmac_sql, veil.duckdb_udfs), computed by
the same Python code, byte for byte:

- `veil_hmac_sha256(x)`: hex HMAC-SHA256 of `CAST(x AS STRING)`'s UTF-8 bytes
  under the keyring's `hmac` key (`hash`, `domain_only`);
- `veil_hmac_sha256_blob(b)`: the same over BINARY as it is;
- `veil_subject_digest(x)`: the same under the HKDF-derived subject-digest key;
- `veil_mask_fpe(value, keep_last, luhn)` and `veil_mask_encrypt(value, context)`:
  FF1 and AES-256-GCM, as on DuckDB;
- `veil_mask_tokenize(...)` exists but refuses every row: the token vault is
  one DuckDB file on one machine, which Spark's Python workers (several
  processes, on a cluster several machines) cannot share.

Each is a vectorized Arrow UDF (`pyspark.sql.functions.arrow_udf`) named
`<name>_udf`, behind a SQL temporary function `<name>(x STRING ...)` that gives
it typed parameters (so `veil_hmac_sha256(42)` hashes `'42'`, as on DuckDB).
The key reaches the Python workers inside the UDF's pickled body (driver
process -> JVM -> worker), never as SQL text, a Spark conf, a table or a catalog
entry, so it is not in query text, plans, the SQL tab or the event log
(tests/test_spark_functions.py proves each). The HMAC functions carry the
`hmac` key alone (the subject-digest key is derived on the driver); fpe and
encrypt carry the primary `fpe` and `encrypt` keys as bytes: never the vault
or audit key, an old version, the KEK or a KMS client.

>>> from veil.keyring import keyring_from_key
>>> sorted(spark_udfs(keyring_from_key(bytes(32))))   # doctest: +NORMALIZE_WHITESPACE
['veil_hmac_sha256', 'veil_hmac_sha256_blob', 'veil_mask_encrypt', 'veil_mask_fpe',
 'veil_mask_tokenize', 'veil_subject_digest']
>>> body = spark_udfs(keyring_from_key(bytes(32)))["veil_hmac_sha256"].body
>>> import hmac, hashlib, pickle, pyarrow as pa
>>> pickle.loads(pickle.dumps(body))(pa.array(["abc", None])).to_pylist() == [
...     hmac.new(bytes(32), b"abc", hashlib.sha256).hexdigest(), None]
True
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from veil.duckdb_functions import as_keyring
from veil.duckdb_udfs import PARAMS, crypto_udfs
from veil.hmac_sql import DIGEST_FUNCTION, HMAC_BLOB_FUNCTION, HMAC_FUNCTION, _keyed, subject_digest_key
from veil.keyring import Keyring

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

UDF_SUFFIX = "_udf"   # the Arrow UDF behind each typed SQL function
TOKENIZE_FUNCTION = "veil_mask_tokenize"
TOKENIZE_REFUSAL = ("veil: strategy tokenize is not available on Spark: its token vault is one DuckDB file that "
                    "Spark's Python workers cannot share; use fpe or encrypt for this column, or build it on DuckDB")
SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT", "BLOB": "BINARY"}   # DuckDB's parameter types, as Spark's
REVERSIBLE_KEYS = ("fpe", "encrypt")   # the keys crypto_udfs reads (the vault key stays home: no tokenize)


@dataclass(frozen=True)
class SparkUdf:
    """One function: its typed parameters (Spark SQL types), its Arrow body and whether it is deterministic."""

    name: str
    parameters: tuple[str, ...]
    body: Callable[..., pa.Array]
    deterministic: bool = True

    @property
    def udf_name(self) -> str:
        return self.name + UDF_SUFFIX

    def wrapper_sql(self) -> str:
        """`CREATE OR REPLACE TEMPORARY FUNCTION name(x1 STRING, ...) ...`: holds no key, only the call.

        >>> SparkUdf("f", ("STRING", "INT"), str).wrapper_sql()
        'CREATE OR REPLACE TEMPORARY FUNCTION f(x1 STRING, x2 INT) RETURNS STRING RETURN f_udf(x1, x2)'
        """
        names = [f"x{i}" for i in range(1, len(self.parameters) + 1)]
        typed = ", ".join(f"{name} {kind}" for name, kind in zip(names, self.parameters))
        return (f"CREATE OR REPLACE TEMPORARY FUNCTION {self.name}({typed}) RETURNS STRING "
                f"RETURN {self.udf_name}({', '.join(names)})")


class OnWorker:
    """A picklable Arrow UDF body: `factory(*arguments)` builds the real one where it runs, once.

    `factory` is a module-level function (pickled by reference, so veil must
    be importable on the workers); `arguments` are plain values (key bytes),
    because hash states, AES contexts and thread-locals do not pickle. Its repr
    never shows them.

    >>> body = OnWorker(_keyed, bytes(32), False)
    >>> body, body(pa.array([None])).to_pylist()
    (OnWorker(_keyed), [None])
    """

    def __init__(self, factory: Callable[..., Callable[..., pa.Array]], *arguments: Any):
        self.factory, self.arguments = factory, arguments
        self._built: Callable[..., pa.Array] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"factory": self.factory, "arguments": self.arguments}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.factory, self.arguments, self._built = state["factory"], state["arguments"], None

    def __call__(self, *columns: pa.Array) -> pa.Array:
        if self._built is None:
            self._built = self.factory(*self.arguments)
        return self._built(*columns)

    def __repr__(self) -> str:
        return f"OnWorker({self.factory.__name__})"


def _crypto_udf(name: str, keyring: Keyring | None) -> Callable[..., pa.Array]:
    """The Arrow body of DuckDB's reversible function `name` (veil.duckdb_udfs), built on the worker."""
    return crypto_udfs(keyring, {})[name][0]


def _refuse(message: str) -> Callable[..., pa.Array]:
    def run(*columns: pa.Array) -> pa.Array:
        if len(columns[0]):
            raise RuntimeError(message)
        return pa.array([], pa.string())
    return run


def _travelling_keyring(keyring: Keyring) -> Keyring:
    """Only the primary versions of the keys the reversible functions use, as bytes (no KMS, no KEK)."""
    primaries = {name: keyring.primary(name) for name in REVERSIBLE_KEYS}
    return Keyring(f"{keyring.source} (primaries of {', '.join(REVERSIBLE_KEYS)})",
                   {name: key.version for name, key in primaries.items()},
                   {name: {key.version: key.material} for name, key in primaries.items()})


def hmac_udfs(key: bytes | None) -> list[SparkUdf]:
    """The three HMAC functions under `key` (any length, as HMAC allows; None: they fail when used)."""
    digest_key = subject_digest_key(key) if key is not None else None
    return [SparkUdf(HMAC_FUNCTION, ("STRING",), OnWorker(_keyed, key, False)),
            SparkUdf(HMAC_BLOB_FUNCTION, ("BINARY",), OnWorker(_keyed, key, True)),
            SparkUdf(DIGEST_FUNCTION, ("STRING",), OnWorker(_keyed, digest_key, False))]


def reversible_udfs(keyring: Keyring | None) -> list[SparkUdf]:
    """fpe and encrypt as DuckDB has them (veil.duckdb_udfs), and tokenize's refusal."""
    travelling = _travelling_keyring(keyring) if keyring is not None else None
    udfs = []
    for name, (_, side_effects) in crypto_udfs(travelling, {}).items():   # built here for the flags only
        parameters = tuple(SPARK_TYPES[str(kind)] for kind in PARAMS[name])
        body = (OnWorker(_refuse, TOKENIZE_REFUSAL) if name == TOKENIZE_FUNCTION
                else OnWorker(_crypto_udf, name, travelling))
        udfs.append(SparkUdf(name, parameters, body, deterministic=not side_effects))
    return udfs


def spark_udfs(keys) -> dict[str, SparkUdf]:
    """name -> SparkUdf for every keyed function; `keys`: a Keyring, a raw 32-byte key or None.

    Without keys the functions exist and fail on any row they are applied to,
    with the message saying how to set one.
    """
    keyring = as_keyring(keys)
    key = keyring.primary("hmac").material if keyring is not None else None
    return {udf.name: udf for udf in [*hmac_udfs(key), *reversible_udfs(keyring)]}


def register_udfs(spark: SparkSession, udfs: Iterable[SparkUdf]) -> None:
    """Register each Arrow UDF and its typed SQL function on `spark` (replacing earlier ones)."""
    from pyspark.sql.functions import ArrowUDFType, arrow_udf

    for udf in udfs:
        with warnings.catch_warnings():   # type hints cannot say "n Arrow arrays in": the type is given instead
            warnings.simplefilter("ignore", UserWarning)
            function = arrow_udf(udf.body, returnType="string", functionType=ArrowUDFType.SCALAR)
        if not udf.deterministic:
            function = function.asNondeterministic()
        spark.udf.register(udf.udf_name, function)
        spark.sql(udf.wrapper_sql())


def register_hmac(spark: SparkSession, key: bytes | None) -> None:
    """Only the HMAC functions, under a raw key of any length (as veil.hmac_sql.register_hmac on DuckDB)."""
    register_udfs(spark, hmac_udfs(key))


def register_functions(spark: SparkSession, keys, env: Mapping[str, str] = os.environ) -> None:
    """Register (or replace) every keyed function on `spark`; `keys` as for `spark_udfs`.

    Temporary functions belong to the session: register on the very session
    that runs the SQL (veil.dbt_spark does it for dbt-spark's `method: session`).
    `env` is unused today (the vault, which would need it, does not run here); kept
    for the same signature as veil.duckdb_functions.register_functions.
    """
    register_udfs(spark, spark_udfs(keys).values())
