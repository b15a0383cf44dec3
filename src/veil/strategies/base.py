"""What a masking strategy is, and the small expression helpers they share.

A strategy turns a column expression into its masked expression, as a sqlglot
tree, so one strategy renders for DuckDB, PostgreSQL and the rest:

>>> from sqlglot import exp
>>> redact = Strategy("redact", None, False, "'[REDACTED]'", frozenset(),
...                   lambda column, ctx: exp.Literal.string("[REDACTED]"))
>>> redact.build(exp.column("email"), MaskContext()).sql(dialect="duckdb")
"'[REDACTED]'"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from veil.hmac_sql import HMAC_FUNCTION
from veil.types import ColumnType, TypeFamily

# Whitespace trimmed around text values, as a regular expression: DuckDB's bare
# TRIM strips spaces and some Unicode spaces but not tabs or newlines, and
# PostgreSQL's strips only spaces. POSIX [:space:] (space, \t \n \v \f \r)
# reads the same in RE2 (DuckDB) and PostgreSQL.
SURROUNDING_SPACE_PATTERN = "^[[:space:]]+|[[:space:]]+$"

# The warehouses veil compiles for, and where each keeps the keyed HMAC function:
# a per-connection function on DuckDB (veil.hmac_sql), a SECURITY DEFINER
# function in the `veil` schema on PostgreSQL (veil.postgres_keys), a session
# function of the same name as DuckDB's on Spark (veil.spark_functions).
TARGETS = ("duckdb", "postgres", "spark")
ALL_TARGETS = frozenset(TARGETS)
POSTGRES_HMAC_SCHEMA, POSTGRES_HMAC_FUNCTION = "veil", "hmac_sha256"

# Spark's regular expressions are Java's: no POSIX bracket classes ([[:space:]]
# would be the characters `:space`) and `$1`, not `\1`, in a replacement.
JAVA_CLASSES = {"[:space:]": "\\p{Space}"}   # the same six characters as RE2's and PostgreSQL's
BACKREFERENCE = re.compile(r"\\([0-9])")


def _java_regex(node: exp.Expression) -> exp.Expression:
    """A regex function's pattern (and replacement) as Java reads it; other nodes as they are."""
    if not isinstance(node, exp.RegexpLike | exp.RegexpReplace | exp.RegexpILike | exp.RegexpSplit):
        return node
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        text = pattern.this
        for posix, java in JAVA_CLASSES.items():
            text = text.replace(posix, java)
        node.set("expression", exp.Literal.string(text))
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Literal) and replacement.is_string:
        escaped = replacement.this.replace("$", "\\$")
        node.set("replacement", exp.Literal.string(BACKREFERENCE.sub(r"$\1", escaped)))
    return node


def for_target(expression: exp.Expression, target: str) -> exp.Expression:
    r"""`expression` spelled for `target` (a copy): the keyed HMAC call's name, Spark's regexes.

    >>> call = exp.Anonymous(this=HMAC_FUNCTION, expressions=[exp.column("x")])
    >>> for_target(call, "postgres").sql("postgres"), for_target(call, "duckdb").sql("duckdb")
    ('veil.hmac_sha256(x)', 'VEIL_HMAC_SHA256(x)')
    >>> trim = exp.RegexpReplace(this=exp.column("x"), expression=exp.Literal.string("^[[:space:]]+"),
    ...                          replacement=exp.Literal.string("\\1"))
    >>> print(for_target(trim, "spark").sql("duckdb"))
    REGEXP_REPLACE(x, '^[\p{Space}]+', '$1', 'g')
    """
    if target == "duckdb":
        return expression.copy()
    if target == "spark":
        return expression.copy().transform(_java_regex)

    def respell(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == HMAC_FUNCTION:
            call = exp.Anonymous(this=POSTGRES_HMAC_FUNCTION, expressions=[e.copy() for e in node.expressions])
            return exp.Dot(this=exp.to_identifier(POSTGRES_HMAC_SCHEMA), expression=call)
        return node

    return expression.copy().transform(respell)


@dataclass(frozen=True)
class MaskContext:
    """What a strategy may know about the column it masks.

    >>> MaskContext(column_type=ColumnType.DATE).column_type.family
    <TypeFamily.TEMPORAL: 'temporal'>
    """

    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    column_type: ColumnType | None = None
    table: str | None = None       # the policy table, for strategies that bind to it (encrypt)
    column: str | None = None      # the column's name, likewise
    subject: exp.Expression | None = None   # the row's subject id, for strategies that bind to it (tokenize)


Builder = Callable[[exp.Expression, MaskContext], "exp.Expression | None"]


@dataclass(frozen=True)
class Strategy:
    """A named masking strategy: its metadata and its expression builder.

    `fits` is the set of type families it applies to (None: any type);
    `keyed` says whether its SQL calls the keyed HMAC function;
    `costly` marks a strategy whose SQL is expensive per row (long regex chains).
    """

    name: str
    fits: frozenset[TypeFamily] | None
    keyed: bool
    description: str
    options: frozenset[str]
    builder: Builder = field(repr=False, compare=False)
    costly: bool = False
    reversible: bool = False       # an authorized audience can get the original back (veil reveal)
    targets: frozenset[str] = ALL_TARGETS   # the warehouses its SQL runs on
    unavailable_because: str = ""           # why not on the others

    def supports(self, target: str) -> bool:
        """Whether the strategy's SQL runs on `target` (duckdb, postgres, spark).

        >>> from veil.strategies import get_strategy
        >>> get_strategy("zip3").supports("postgres"), get_strategy("fpe").supports("postgres")
        (True, True)
        >>> Strategy("x", None, False, "", frozenset(), lambda c, ctx: c, targets=frozenset({"duckdb"}),
        ...          unavailable_because="no such function there").unavailable_message("postgres")
        'strategy x is not available on postgres (no such function there)'
        """
        return target in self.targets

    def unavailable_message(self, target: str) -> str:
        """`strategy fpe is not available on postgres (...)`."""
        return f"strategy {self.name} is not available on {target} ({self.unavailable_because})"

    @property
    def once_per_distinct_value(self) -> bool:
        """Whether a model should mask each distinct value once and join back.

        Keyed (HMAC) and costly strategies cost far more than a scan and a hash
        join, and the values they mask (device ids, IPs, emails) repeat.

        >>> from veil.strategies import get_strategy
        >>> [get_strategy(n).once_per_distinct_value for n in ("hash", "subnet_only", "last4")]
        [True, True, False]
        """
        return self.keyed or self.costly

    def fits_type(self, column_type: ColumnType | None) -> bool:
        """Whether the strategy applies to a column of this type (unknown fits).

        >>> from veil.strategies import get_strategy
        >>> get_strategy("year_only").fits_type(ColumnType.STRING)
        False
        """
        return self.fits is None or column_type is None or column_type.family in self.fits

    def validate_options(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError naming the first option this strategy does not take.

        >>> from veil.strategies import get_strategy
        >>> get_strategy("hash").validate_options({"salt": "x"})
        Traceback (most recent call last):
        ...
        ValueError: strategy 'hash' takes no option 'salt' (it takes none)
        """
        unknown = sorted(set(options) - self.options)
        if unknown:
            accepted = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"strategy {self.name!r} takes no option {unknown[0]!r} (it takes {accepted})")

    def build(self, column: exp.Expression, ctx: MaskContext) -> exp.Expression | None:
        """The masked expression over `column`; None when the column is dropped.

        >>> from veil.strategies import get_strategy
        >>> get_strategy("year_only").build(exp.column("born_on"), MaskContext()).sql("duckdb")
        'CAST(YEAR(born_on) AS INT)'
        """
        self.validate_options(ctx.options)
        return self.builder(column.copy(), ctx)


# --- helpers shared by the strategy modules --------------------------------


def text(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    """The column as VARCHAR (no cast when it is declared a string)."""
    if ctx.column_type is ColumnType.STRING:
        return column.copy()
    return exp.cast(column.copy(), exp.DataType.Type.VARCHAR)


def trimmed(value: exp.Expression) -> exp.Expression:
    """`value` without surrounding whitespace (see SURROUNDING_SPACE_PATTERN)."""
    return replace_all(value, SURROUNDING_SPACE_PATTERN, "")


def hmac_hex(value: exp.Expression) -> exp.Expression:
    """The keyed function call: 64 lowercase hex chars of HMAC-SHA256(key, value)."""
    return exp.Anonymous(this=HMAC_FUNCTION, expressions=[value.copy()])


def prefix(value: exp.Expression, length: int) -> exp.Expression:
    """The first `length` characters of `value`."""
    return exp.Substring(this=value.copy(), start=exp.Literal.number(1), length=exp.Literal.number(length))


def matches(value: exp.Expression, pattern: str) -> exp.Expression:
    """`value` matches the regular expression (anchor it: DuckDB searches)."""
    return exp.RegexpLike(this=value.copy(), expression=exp.Literal.string(pattern))


def replace_all(value: exp.Expression, pattern: str, replacement: str) -> exp.Expression:
    """Every match of `pattern` in `value` replaced (the 'g' flag in both dialects)."""
    return exp.RegexpReplace(
        this=value.copy(),
        expression=exp.Literal.string(pattern),
        replacement=exp.Literal.string(replacement),
    )


def concat(*parts: exp.Expression) -> exp.Expression:
    """`a || b || ...`, NULL if any part is NULL, in every dialect."""
    result = parts[0].copy()
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part.copy())
    return result


def length(value: exp.Expression) -> exp.Expression:
    """The number of characters of `value`."""
    return exp.Length(this=value.copy())
