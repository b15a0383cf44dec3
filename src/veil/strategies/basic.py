"""Strategies that keep nothing of the value: drop, null, redact.

>>> from sqlglot import exp
>>> from veil.types import ColumnType
>>> NULL.build(exp.column("ssn"), MaskContext(column_type=ColumnType.DATE)).sql("duckdb")
'CAST(NULL AS DATE)'
>>> REDACT.build(exp.column("notes"), MaskContext()).sql("duckdb")
"CASE WHEN notes IS NULL THEN NULL ELSE '[REDACTED]' END"
"""

from __future__ import annotations

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy
from veil.types import TypeFamily


def _drop(column: exp.Expression, ctx: MaskContext) -> None:
    return None


def _null(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    if ctx.column_type is None:
        return exp.Null()
    return exp.cast(exp.Null(), exp.DataType.build(ctx.column_type.sql))


def _redact(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    return exp.Case().when(column.is_(exp.Null()), exp.Null()).else_(exp.Literal.string("[REDACTED]"))


DROP = Strategy("drop", None, False, "column omitted", frozenset(), _drop)
NULL = Strategy("null", None, False, "NULL of the column's type", frozenset(), _null)
REDACT = Strategy("redact", frozenset({TypeFamily.TEXT}), False, "text -> '[REDACTED]'", frozenset(), _redact)
