"""A statement as parsed, before the tracer rewrites it: its nodes by type and its scopes.

Identifiers are normalized as the dialect resolves them (DuckDB and Spark:
case-insensitive; PostgreSQL: unquoted ones lower-cased), as sqlglot's
`normalize_identifiers` does, in the same walk, before anything is scoped.

Rules that read the SQL as written (VL001, VL901, VL903) and the tracer's
first passes all look for nodes of a few types and at the query's scopes;
walking the tree once and scoping it once, for all of them, keeps lint near
the cost of parsing.

>>> import sqlglot
>>> written = Written(sqlglot.parse_one("with u as (select email from RAW.Users) select * from u", read="duckdb"))
>>> [t.name for t in written.nodes(exp.Table)], len(written.scopes)
(['u', 'users'], 2)
"""

from __future__ import annotations

import string
from collections.abc import Callable
from functools import cached_property

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope


def _normalizer(dialect: str) -> Callable[[exp.Identifier], None] | None:
    """What the dialect's `normalize_identifier` does, without its per-call dispatch (None: case-sensitive)."""
    found = Dialect.get_or_raise(dialect)
    strategy = found.normalization_strategy
    if strategy is NormalizationStrategy.CASE_SENSITIVE:
        return None
    insensitive = strategy in (NormalizationStrategy.CASE_INSENSITIVE,
                               NormalizationStrategy.CASE_INSENSITIVE_UPPERCASE)
    upper = strategy in (NormalizationStrategy.UPPERCASE, NormalizationStrategy.CASE_INSENSITIVE_UPPERCASE)
    if found.ASCII_ONLY_NORMALIZATION:
        table = str.maketrans(string.ascii_lowercase, string.ascii_uppercase) if upper else \
            str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
        change: Callable[[str], str] = lambda text: text.translate(table)  # noqa: E731
    else:
        change = str.upper if upper else str.lower

    def normalize(identifier: exp.Identifier) -> None:
        if insensitive or not identifier.args.get("quoted"):
            text = identifier.this
            if isinstance(text, str):
                changed = change(text)
                if changed != text:
                    identifier.set("this", changed)

    return normalize


class Written:
    """One parsed statement: `nodes(*types)` from a single walk, `scopes` from a single traversal."""

    def __init__(self, tree: exp.Expression, dialect: str = "duckdb"):
        self.tree = tree
        self._by_type: dict[type, list[exp.Expression]] = {}
        normalize = _normalizer(dialect)
        by_type = self._by_type
        for node in tree.walk():
            kind = type(node)
            if kind in by_type:
                by_type[kind].append(node)
            else:
                by_type[kind] = [node]
            if kind is exp.Identifier and normalize is not None:
                normalize(node)
        self._found: dict[tuple[type, ...], list[exp.Expression]] = {}

    def nodes(self, *types: type) -> list[exp.Expression]:
        """Every node that is an instance of one of `types`, in walk order within each type."""
        if types not in self._found:
            self._found[types] = [node for kind, nodes in self._by_type.items() if issubclass(kind, types)
                                  for node in nodes]
        return self._found[types]

    @cached_property
    def scopes(self) -> list[Scope]:
        """sqlglot's scopes, innermost first; none when sqlglot cannot scope the statement."""
        try:
            return traverse_scope(self.tree)
        except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
            return []


def defined_function(tree: exp.Expression) -> str | None:
    """The name a `CREATE MACRO` / `CREATE FUNCTION` statement defines, lower-cased, else None.

    >>> import sqlglot
    >>> defined_function(sqlglot.parse_one("create or replace temp macro Veil_Mask_Hash(x) as x", read="duckdb"))
    'veil_mask_hash'
    """
    if isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() in {"MACRO", "FUNCTION"}:
        target = tree.this.this if isinstance(tree.this, exp.UserDefinedFunction) else tree.this
        return target.name.lower() if isinstance(target, exp.Expression) and target.name else None
    return None
