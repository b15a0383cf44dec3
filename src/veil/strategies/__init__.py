"""Masking strategies as sqlglot expression builders, by name.

>>> from sqlglot import exp
>>> sorted(STRATEGIES) == list(STRATEGIES)
True
>>> get_strategy("zip3").build(exp.column("zip"), MaskContext()).sql("duckdb")[:4]
'CASE'
"""

from __future__ import annotations

from veil.hmac_sql import HMAC_FUNCTION
from veil.strategies.base import TARGETS, MaskContext, Strategy, for_target
from veil.strategies.basic import DROP, NULL, REDACT
from veil.strategies.keyed import DOMAIN_ONLY, HASH
from veil.strategies.network import SUBNET_ONLY
from veil.strategies.reversible import ENCRYPT, FPE, TOKENIZE
from veil.strategies.temporal import YEAR_ONLY
from veil.strategies.text import LAST4, ZIP3

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in sorted(
        (DROP, NULL, REDACT, HASH, DOMAIN_ONLY, SUBNET_ONLY, LAST4, YEAR_ONLY, ZIP3, FPE, TOKENIZE, ENCRYPT),
        key=lambda s: s.name,
    )
}


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`; KeyError (listing the known ones) if none is.

    >>> get_strategy("last4").keyed
    False
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown masking strategy {name!r}; expected one of {', '.join(STRATEGIES)}") from None


__all__ = ["HMAC_FUNCTION", "STRATEGIES", "TARGETS", "MaskContext", "Strategy", "for_target", "get_strategy"]
