"""Network strategies: subnet_only keeps an IPv4 /24 or an IPv6 /48.

IPv6 is expanded in SQL with portable string functions: the groups are
counted, `::` is replaced by the zero groups it stands for, and the first
three groups are printed without leading zeros, followed by `::`.

>>> from sqlglot import exp
>>> SUBNET_ONLY.fits
frozenset({<TypeFamily.TEXT: 'text'>})
"""

from __future__ import annotations

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy, concat, length, matches, replace_all, text, trimmed
from veil.types import TypeFamily

# Decimal 0-255 without leading zeros, as Python's ipaddress reads it.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
IPV4_PATTERN = f"^{_DOTTED_QUAD}$"
# An IPv6 address may end in a dotted quad ('::ffff:10.0.0.1'): it fills the
# last two groups, never the first three, so it is read as ':0:0'.
EMBEDDED_IPV4_PATTERN = f":{_DOTTED_QUAD}$"

_GROUP = "[0-9a-f]{1,4}"
IPV6_FULL_PATTERN = f"^{_GROUP}(?::{_GROUP}){{7}}$"
# One '::' between two (possibly empty) runs of groups; at most 7 groups in
# all is checked by counting them.
IPV6_COMPRESSED_PATTERN = f"^(?:{_GROUP}(?::{_GROUP})*)?::(?:{_GROUP}(?::{_GROUP})*)?$"


def _string(value: str) -> exp.Expression:
    return exp.Literal.string(value)


def _replace_once(value: exp.Expression, pattern: str, replacement: str) -> exp.Expression:
    return exp.RegexpReplace(
        this=value.copy(), expression=_string(pattern), replacement=_string(replacement), single_replace=True
    )


def _split_part(value: exp.Expression, delimiter: str, index: int) -> exp.Expression:
    return exp.SplitPart(this=value.copy(), delimiter=_string(delimiter), part_index=exp.Literal.number(index))


def _group_count(address: exp.Expression) -> exp.Expression:
    """How many hex groups an IPv6 text spells out (each run of non-colons is one)."""
    runs = replace_all(address, "[^:]+", "x")
    return length(exp.Replace(this=runs, expression=_string(":"), replacement=_string("")))


def _expanded(address: exp.Expression) -> exp.Expression:
    """'a::b' -> 'a:0:0:0:0:0:0:b': '::' becomes ':0:...0:' and outer colons go."""
    missing = exp.Sub(this=exp.Literal.number(8), expression=_group_count(address))
    filler = concat(_string(":"), exp.Repeat(this=_string("0:"), times=missing))
    return exp.Trim(
        this=exp.Replace(this=address.copy(), expression=_string("::"), replacement=filler),
        expression=_string(":"),
    )


def _ipv6_48(address: exp.Expression) -> exp.Expression:
    full = _expanded(address)
    groups = [
        _replace_once(_split_part(full, ":", i), "^0+(.)", r"\1")  # no leading zeros
        for i in (1, 2, 3)
    ]
    return concat(groups[0], _string(":"), groups[1], _string(":"), groups[2], _string("::"))


def _subnet_only(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    address = exp.Lower(this=trimmed(text(column, ctx)))
    ipv6 = _replace_once(address, EMBEDDED_IPV4_PATTERN, ":0:0")
    is_ipv6 = exp.or_(
        matches(ipv6, IPV6_FULL_PATTERN),
        exp.and_(
            matches(ipv6, IPV6_COMPRESSED_PATTERN),
            exp.LTE(this=_group_count(ipv6), expression=exp.Literal.number(7)),
        ),
    )
    return (
        exp.Case()
        .when(matches(address, IPV4_PATTERN), _replace_once(address, "[0-9]+$", "0"))
        .when(is_ipv6, _ipv6_48(ipv6))
    )


SUBNET_ONLY = Strategy(
    "subnet_only",
    frozenset({TypeFamily.TEXT}),
    False,
    "IP -> its network: IPv4 last octet 0, IPv6 first 48 bits",
    frozenset(),
    _subnet_only,
    costly=True,
)
