"""Dotted purposes: a rule on `marketing` covers `marketing.email`.

>>> lineage("marketing.email.weekly")
['marketing.email.weekly', 'marketing.email', 'marketing']
>>> nearest("marketing.email", {"marketing": "hash"})
'marketing'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

PURPOSE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

T = TypeVar("T")


def lineage(purpose: str) -> list[str]:
    """The purpose itself, then each ancestor, most specific first."""
    parts = purpose.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def nearest(purpose: str, rules: Mapping[str, T] | Iterable[str]) -> str | None:
    """The most specific name in `rules` that is `purpose` or an ancestor of it."""
    names = set(rules)
    return next((name for name in lineage(purpose) if name in names), None)


def covers(rule_purpose: str, purpose: str) -> bool:
    """True when a rule on `rule_purpose` applies to `purpose`.

    >>> covers("analytics", "analytics.reporting"), covers("analytics.reporting", "analytics")
    (True, False)
    """
    return rule_purpose in lineage(purpose)
