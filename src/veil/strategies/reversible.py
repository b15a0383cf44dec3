"""Reversible strategies: `fpe` (FF1), `tokenize` (vault), `encrypt` (AES-256-GCM; on PostgreSQL AES-CBC + HMAC).

Each builds a call of a keyed function, with its options as literals: on
DuckDB a Python function the dbt-duckdb plugin registers (`veil.duckdb_udfs`;
the keys stay in the plugin's process), on PostgreSQL the `SECURITY DEFINER`
function of the same name in schema `veil` (`veil.postgres_reversible`; the
keys stay in the server). `CALL_SCHEMA` says where each target keeps them:

>>> {target: reversible_call("fpe_call(x)", target) for target in ("duckdb", "postgres")}
{'duckdb': 'fpe_call(x)', 'postgres': 'veil.fpe_call(x)'}

>>> from sqlglot import exp
>>> from veil.types import ColumnType
>>> FPE.build(exp.column("card_number"), MaskContext(options={"keep_last": 4},
...     column_type=ColumnType.STRING)).sql("duckdb")
"VEIL_MASK_FPE(card_number, 4, 'invalid')"
>>> ENCRYPT.build(exp.column("ssn"), MaskContext(table="users", column="ssn")).sql("duckdb")
"VEIL_MASK_ENCRYPT(CAST(ssn AS TEXT), 'users.ssn')"

`tokenize` also passes the row's subject, so the vault records who owns the
token (erasure then forgets it without the raw value); without a subject it
passes a NULL and binds nobody:

>>> TOKENIZE.build(exp.column("card_number", "src"), MaskContext(options={"keep_last": 4},
...     column_type=ColumnType.STRING, subject=exp.column("user_id", "src"))).sql("duckdb")
"VEIL_MASK_TOKENIZE(src.card_number, 4, 'invalid', CAST(src.user_id AS TEXT))"
>>> TOKENIZE.build(exp.column("card_number"), MaskContext()).sql("duckdb")
"VEIL_MASK_TOKENIZE(CAST(card_number AS TEXT), 0, 'invalid', CAST(NULL AS TEXT))"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy, text
from veil.types import TypeFamily

LUHN_MODES = ("invalid", "valid", "any")
FORMAT_OPTIONS = frozenset({"keep_last", "luhn"})
CALL_SCHEMA = {"duckdb": None, "postgres": "veil", "spark": None}   # where each target's reversible functions live
RUNS_ON = frozenset(CALL_SCHEMA)                      # the targets that have them: the others refuse
NOT_THERE = "veil has no keyed function for it on that engine"
VAULT_TARGETS = RUNS_ON - {"spark"}   # Spark's workers cannot share one vault (veil.spark_functions)
NO_SHARED_VAULT = ("its token vault is one file that Spark's Python workers cannot share; use fpe or encrypt, "
                   "or build this model on DuckDB or PostgreSQL")


def reversible_call(call_sql: str, target: str) -> str:
    """The SQL of a reversible function call (DuckDB's spelling) as `target` spells it.

    Spark has no TEXT type: the casts DuckDB's call writes become STRING (on a
    dbt call, `{{ sql }}`, a Jinja filter does it when the model runs).

    >>> reversible_call("VEIL_MASK_ENCRYPT(CAST(ssn AS TEXT), 'users.ssn')", "spark")
    "VEIL_MASK_ENCRYPT(CAST(ssn AS STRING), 'users.ssn')"
    >>> reversible_call("{{ sql }}", "spark")
    "{{ sql | replace(' AS TEXT)', ' AS STRING)') }}"
    """
    if target == "spark":
        if call_sql == "{{ sql }}":
            return "{{ sql | replace(' AS TEXT)', ' AS STRING)') }}"
        return call_sql.replace(" AS TEXT)", " AS STRING)")
    schema = CALL_SCHEMA[target]
    return call_sql if schema is None else f"{schema}.{call_sql}"


def format_options(options: Mapping[str, Any]) -> tuple[int, str]:
    """`keep_last` (a whole number >= 0, default 0) and `luhn` (default invalid); ValueError if wrong."""
    keep_last = options.get("keep_last", 0)
    luhn = options.get("luhn", "invalid")
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
        raise ValueError(f"keep_last must be a whole number >= 0, got {keep_last!r}")
    if luhn not in LUHN_MODES:
        raise ValueError(f"luhn must be one of {', '.join(LUHN_MODES)}, got {luhn!r}")
    return keep_last, luhn


def _formatted(function: str, binds_subject: bool = False):
    def build(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
        keep_last, luhn = format_options(ctx.options)
        arguments = [text(column, ctx), exp.Literal.number(keep_last), exp.Literal.string(luhn)]
        if binds_subject:
            subject = ctx.subject.copy() if ctx.subject is not None else exp.Null()
            arguments.append(exp.cast(subject, exp.DataType.Type.VARCHAR))
        return exp.Anonymous(this=function, expressions=arguments)

    return build


def _encrypt(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    if not ctx.table or not ctx.column:
        raise ValueError("encrypt needs the table and column it binds the ciphertext to")
    return exp.Anonymous(this="veil_mask_encrypt", expressions=[
        exp.cast(column.copy(), exp.DataType.Type.VARCHAR), exp.Literal.string(f"{ctx.table}.{ctx.column}")])


FPE = Strategy(
    "fpe", frozenset({TypeFamily.TEXT}), False,
    "format-preserving encryption (NIST FF1): digits stay digits, separators stay, deterministic per key",
    FORMAT_OPTIONS, _formatted("veil_mask_fpe"), costly=True, reversible=True,
    targets=RUNS_ON, unavailable_because=NOT_THERE)
TOKENIZE = Strategy(
    "tokenize", frozenset({TypeFamily.TEXT}), False,
    "random format-preserving token, the original sealed in the token vault",
    FORMAT_OPTIONS, _formatted("veil_mask_tokenize", binds_subject=True), costly=True, reversible=True,
    targets=VAULT_TARGETS, unavailable_because=NO_SHARED_VAULT)
ENCRYPT = Strategy(
    "encrypt", None, False,
    "ciphertext bound to its table and column: veil1:<key>:v<n>:<nonce>:<ciphertext>:<tag> (AES-256-GCM; "
    "on PostgreSQL veil1cbc:..., AES-256-CBC then HMAC-SHA256)",
    frozenset(), _encrypt, costly=True, reversible=True,
    targets=RUNS_ON, unavailable_because=NOT_THERE)
