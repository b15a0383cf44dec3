"""VL002 pii-disallowed-use."""

from __future__ import annotations

from collections.abc import Iterator

from veil.compile.plan import Action
from veil.lint.lineage import ColumnUse
from veil.lint.rules.base import RawFinding, Statement, describe, rule


def _problem(statement: Statement, use: ColumnUse) -> str | None:
    """Why this use is not allowed for the statement's purpose, or None."""
    purpose = statement.purpose
    entry = use.entry
    if entry.model is not None and entry.model.purpose == purpose:
        return None   # the audience model is already masked for this purpose
    decision = statement.catalog.decision(entry, use.column, purpose)
    if decision is None or entry.column(use.column).pii_classification is None:
        return None   # unclassified: VL004's business
    if decision.action is Action.RAW:
        return None
    if decision.action is Action.MASK:
        model = entry.model_decision(use.column)
        masked = use.masked_by or (model.strategy if model and model.action is Action.MASK else None)
        if use.masked_by and f"veil_mask_{use.masked_by}" in statement.redefined:
            return f"is used through veil_mask_{use.masked_by}(), which this file redefines: veil's mask no more"
        if masked == decision.strategy:
            return None
        how = f"masked with `{masked}`" if masked else "unmasked"
        return f"is used {how}; for {purpose} the policy allows it only through veil_mask_{decision.strategy}()"
    return f"may not be used for {purpose}: {decision.reason}"


@rule("VL002", "pii-disallowed-use")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A column whose policy does not allow the query's purpose is used anywhere in the query.

    Uses are traced through CTEs, subqueries, aliases, stars and UNIONs, in
    every clause (projection, JOIN ON, WHERE, GROUP BY, HAVING, ORDER BY,
    window, aggregates). A column the policy masks for the purpose is allowed
    only inside that masking function (`veil_mask_<strategy>(...)`).

    Anti-pattern:

        -- veil: purpose=analytics
        select country, count(distinct email) from raw.users group by country

    Best practice:

        -- veil: purpose=analytics
        select country, count(distinct veil_mask_domain_only(email)) from raw.users group by country
    """
    if statement.purpose is None:
        return
    reported: set[tuple[str, str, int | None]] = set()
    for use in statement.query.uses:
        problem = _problem(statement, use)
        key = (use.entry.key, use.column, use.offset)
        if problem is None or key in reported:
            continue
        reported.add(key)
        yield RawFinding(use.offset, f"{describe(use)} {problem} (in {use.clause}; policy {use.entry.loaded.path})",
                         use.entry.table, use.column)
