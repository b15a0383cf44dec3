"""Temporal strategies: year_only.

>>> from sqlglot import exp
>>> YEAR_ONLY.build(exp.column("born_on"), MaskContext()).sql("postgres")
'CAST(EXTRACT(YEAR FROM born_on) AS INT)'
"""

from __future__ import annotations

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy
from veil.types import TypeFamily


def _year_only(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    return exp.cast(exp.Year(this=column), exp.DataType.Type.INT)


YEAR_ONLY = Strategy(
    "year_only", frozenset({TypeFamily.TEMPORAL}), False, "date -> its year, as an integer", frozenset(), _year_only
)
