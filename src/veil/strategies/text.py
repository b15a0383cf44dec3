"""Text strategies that keep part of the value: last4 and zip3.

>>> from sqlglot import exp
>>> ZIP3.description
"US zip -> first 3 digits, '000' for HIPAA restricted prefixes"
"""

from __future__ import annotations

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy, concat, length, matches, prefix, replace_all, text, trimmed
from veil.types import TypeFamily

# The part of a value left in clear by last4: from the fourth-last digit to the
# end, or the whole value when it has at most four digits.
CLEAR_TAIL_PATTERN = "(?:[0-9](?:[^0-9]*[0-9]){3}|^(?:[^0-9]*[0-9]){0,3})[^0-9]*$"

ZIP_PATTERN = "^[0-9]{5}(-[0-9]{4})?$"

# 3-digit prefixes whose areas hold 20,000 people or fewer (HIPAA Safe Harbor,
# 45 CFR 164.514(b)(2)(i)(B), census 2000 list): they must become '000'.
RESTRICTED_ZIP3 = (
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
)  # fmt: skip


def _last4(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    # Digits are ASCII 0-9. A value with four digits or fewer has nothing to
    # mask and is returned as it is; anything else never shows a fifth digit.
    value = text(column, ctx)
    head = exp.RegexpReplace(  # the value without its clear tail
        this=value.copy(),
        expression=exp.Literal.string(CLEAR_TAIL_PATTERN),
        replacement=exp.Literal.string(""),
        single_replace=True,
    )
    after_head = exp.Add(this=length(head), expression=exp.Literal.number(1))
    clear_tail = exp.Substring(this=value.copy(), start=after_head)
    return concat(replace_all(head, "[0-9]", "X"), clear_tail)


def _zip3(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    zip_code = trimmed(text(column, ctx))
    first3 = prefix(zip_code, 3)
    restricted = exp.In(this=first3.copy(), expressions=[exp.Literal.string(p) for p in RESTRICTED_ZIP3])
    keep = exp.Case().when(restricted, exp.Literal.string("000")).else_(first3)
    return exp.Case().when(matches(zip_code, ZIP_PATTERN), keep)


LAST4 = Strategy(
    "last4", frozenset({TypeFamily.TEXT}), False, "every digit but the last four -> X", frozenset(), _last4
)
ZIP3 = Strategy(
    "zip3",
    frozenset({TypeFamily.TEXT}),
    False,
    "US zip -> first 3 digits, '000' for HIPAA restricted prefixes",
    frozenset(),
    _zip3,
)
