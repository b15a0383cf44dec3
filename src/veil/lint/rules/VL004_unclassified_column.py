"""VL004 unclassified-column."""

from __future__ import annotations

from collections.abc import Iterator

from veil.lint.rules.base import RawFinding, Statement, describe, rule


@rule("VL004", "unclassified-column")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A column of a policy table used by the query has no classification.

    Privacy by default treats it as DIRECT_PII, so no audience model carries
    it; classify it in the table's policy (or drop it from the query).

    Anti-pattern:

        select user_id, loyalty_tier from raw.users   -- loyalty_tier: not in policies/tables/users.yml

    Best practice:

        # policies/tables/users.yml
        - name: loyalty_tier
          type: STRING
          pii_classification: NON_PII
    """
    reported: set[tuple[str, str, int | None]] = set()
    for use in statement.query.uses:
        column = use.entry.column(use.column)
        if column is not None and column.pii_classification is not None:
            continue
        key = (use.entry.key, use.column, use.offset)
        if key in reported:
            continue
        reported.add(key)
        state = "is not in" if column is None else "has no pii_classification in"
        yield RawFinding(use.offset, f"{describe(use)} {state} {use.entry.loaded.path}", use.entry.table, use.column)
