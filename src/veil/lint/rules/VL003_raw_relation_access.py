"""VL003 raw-relation-access."""

from __future__ import annotations

from collections.abc import Iterator

from veil.lint.rules.base import RawFinding, Statement, rule
from veil.policy.purposes import lineage


@rule("VL003", "raw-relation-access")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A query for an audience's purpose reads a policy table's raw relation instead of its audience model,
    or reads another audience's model (built for a purpose that is not the query's nor a parent of it).

    `analyst__customers` is filtered for analytics (opt-out); a marketing query
    (opt-in) reading it would include every subject who never opted in.

    The audience model is masked, consent-filtered, retention-limited and free
    of erased subjects; the raw relation is none of these, even when every
    column the query names happens to be allowed.

    Anti-pattern:

        -- veil: purpose=analytics
        select country, count(*) from raw.users group by country

    Best practice:

        -- veil: purpose=analytics
        select country, count(*) from analyst__users group by country
    """
    if statement.purpose is None:
        return
    models = statement.catalog.audience_models
    served = next((models[p] for p in lineage(statement.purpose) if p in models), None) or {}
    for reference in statement.query.tables:
        entry = reference.entry
        if entry.model is not None and entry.model.purpose not in lineage(statement.purpose):
            model = served.get(entry.table)
            instead = f"; read {model.model.name} (audience {model.audience})" if model else ""
            yield RawFinding(reference.offset, (
                f"reads {entry.model.name}, built for audience {entry.model.audience} (purpose "
                f"{entry.model.purpose}): its consent and masking are not {statement.purpose}'s{instead}"),
                entry.table)
        elif entry.model is None and entry.table in served:
            model = served[entry.table]
            yield RawFinding(reference.offset, (
                f"reads {reference.name}, the raw relation of policy table {entry.table}; "
                f"for {statement.purpose} read {model.model.name} (audience {model.audience})"), entry.table)
