"""Keyed pseudonyms: hash and domain_only (they call the HMAC function).

Equal inputs give equal outputs in every table, so pseudonyms still join;
without the key they cannot be reversed by a dictionary of emails.

>>> from sqlglot import exp
>>> HASH.build(exp.column("user_id"), MaskContext()).sql("duckdb")
'SUBSTRING(VEIL_HMAC_SHA256(CAST(user_id AS TEXT)), 1, 32)'
"""

from __future__ import annotations

from sqlglot import exp

from veil.strategies.base import MaskContext, Strategy, concat, hmac_hex, matches, prefix, text, trimmed
from veil.types import TypeFamily

# One '@', a non-empty local part and domain, no whitespace inside.
# POSIX [:space:] reads the same in RE2 (DuckDB) and PostgreSQL.
EMAIL_PATTERN = "^[^@[:space:]]+@[^@[:space:]]+$"


def _hash(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    return prefix(hmac_hex(text(column, ctx)), 32)


def _domain_only(column: exp.Expression, ctx: MaskContext) -> exp.Expression:
    email = trimmed(text(column, ctx))
    after_at = exp.SplitPart(this=email.copy(), delimiter=exp.Literal.string("@"), part_index=exp.Literal.number(2))
    domain = exp.Lower(this=after_at)
    pseudonym = prefix(hmac_hex(exp.Lower(this=email.copy())), 16)
    masked = concat(exp.Literal.string("user_"), pseudonym, exp.Literal.string("@"), domain)
    return exp.Case().when(matches(email, EMAIL_PATTERN), masked)


HASH = Strategy(
    "hash", None, True, "keyed pseudonym: first 32 hex chars of HMAC-SHA256(key, value)", frozenset(), _hash
)
DOMAIN_ONLY = Strategy(
    "domain_only", frozenset({TypeFamily.TEXT}), True, "email -> user_<h>@<domain>", frozenset(), _domain_only
)
