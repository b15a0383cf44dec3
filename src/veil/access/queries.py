"""The queries of an access request: everything stored about one subject.

Each builder returns a sqlglot SELECT with one `?` parameter, the subject id
as text, compared to the subject column cast to VARCHAR (so `42` finds a
BIGINT 42 and a VARCHAR '42' alike).

>>> subject_rows_query('"raw"."events"', ["event_id", "user_id"], "user_id", "event_ts").sql(dialect="duckdb")
'SELECT event_id, user_id FROM "raw"."events" WHERE CAST(user_id AS TEXT) = ? ORDER BY event_ts, event_id, user_id'
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from veil.compile import sql
from veil.errors import UsageError
from veil.policy.models import ConsentSpec, ErasureSpec


def is_subject(column: str) -> exp.Expression:
    """`CAST(column AS VARCHAR) = ?`."""
    return exp.EQ(this=exp.cast(sql.column(None, column), exp.DataType.Type.VARCHAR), expression=exp.Placeholder())


def _oldest_first(time_column: str | None, *then: str) -> list[exp.Ordered]:
    order = [exp.Ordered(this=sql.column(None, time_column), nulls_first=False)] if time_column else []
    return order + [exp.Ordered(this=sql.column(None, c), nulls_first=False) for c in then]


def _table(physical: str) -> exp.Table:
    return exp.to_table(physical, dialect="duckdb")


def via_subject(via_column: str, hops: list[tuple[str, str, str | None, str | None]]) -> exp.Expression:
    """`via_column IN (SELECT key FROM parent [JOIN grandparent ...] WHERE CAST(subject AS VARCHAR) = ?)`.

    `hops`, nearest first: (physical table, key column, its own via column or None, its subject column or None).

    >>> via_subject("order_id", [('"main"."orders"', "order_id", None, "customer_id")]).sql("duckdb")
    'order_id IN (SELECT p0.order_id FROM "main"."orders" AS p0 WHERE CAST(p0.customer_id AS TEXT) = ?)'
    """
    physical, key, _, _ = hops[0]
    query = exp.select(sql.column("p0", key)).from_(_table(physical).as_("p0"))
    for hop in range(1, len(hops)):
        parent, parent_key, _, _ = hops[hop]
        child_via = hops[hop - 1][2]
        query = query.join(_table(parent).as_(f"p{hop}"), on=exp.EQ(
            this=sql.column(f"p{hop - 1}", child_via), expression=sql.column(f"p{hop}", parent_key)))
    last = len(hops) - 1
    subject = exp.EQ(this=exp.cast(sql.column(f"p{last}", hops[-1][3]), exp.DataType.Type.VARCHAR),
                     expression=exp.Placeholder())
    return exp.In(this=sql.column(None, via_column), query=exp.Subquery(this=query.where(subject)))


def subject_rows_query(physical: str, columns: list[str], subject: str | exp.Expression, event_time: str | None
                       ) -> exp.Select:
    """Every policy column of every row about the subject, oldest first (`subject`: its column, or a predicate)."""
    select = exp.select(*[sql.column(None, c) for c in columns])
    where = is_subject(subject) if isinstance(subject, str) else subject
    select = select.from_(_table(physical)).where(where)
    return select.order_by(*_oldest_first(event_time, *columns))


def consent_history_query(spec: ConsentSpec, physical: str) -> exp.Select:
    """Every decision of the subject, oldest first (undated ones last)."""
    return (exp.select(*[exp.alias_(sql.column(None, c), name) for name, c in
                         (("purpose", spec.purpose), ("granted", spec.granted), ("recorded_at", spec.recorded_at))])
            .from_(_table(physical)).where(is_subject(spec.subject))
            .order_by(*_oldest_first(spec.recorded_at, spec.purpose, spec.granted)))


def consent_current_query(spec: ConsentSpec, physical: str) -> exp.Select:
    """Per purpose, the current state: the latest decision wins, a tie or a NULL `granted` denies.

    The same rule as the generated `veil_consent_current` model, computed
    here over the raw decisions so the report does not depend on a dbt build.
    """
    recency = exp.Window(
        this=exp.Anonymous(this="RANK"), partition_by=[sql.column(None, spec.purpose)],
        order=exp.Order(expressions=[exp.Ordered(this=sql.column(None, spec.recorded_at), desc=True)]))
    dated = [exp.Not(this=exp.Is(this=sql.column(None, c), expression=exp.Null()))
             for c in (spec.purpose, spec.recorded_at)]
    ranked = (exp.select(exp.alias_(sql.column(None, spec.purpose), "purpose"),
                         exp.alias_(sql.column(None, spec.granted), "granted"),
                         exp.alias_(sql.column(None, spec.recorded_at), "recorded_at"),
                         exp.alias_(recency, "recency"))
              .from_(_table(physical)).where(exp.and_(is_subject(spec.subject), *dated)))
    granted = exp.func("BOOL_AND", exp.func("COALESCE", exp.column("granted"), exp.false()))
    return (exp.select("purpose", exp.alias_(granted, "granted"),
                       exp.alias_(exp.func("MAX", exp.column("recorded_at")), "recorded_at"))
            .with_("ranked", as_=ranked).from_("ranked")
            .where(exp.EQ(this=exp.column("recency"), expression=exp.Literal.number(1)))
            .group_by("purpose").order_by("purpose"))


def erasure_requests_query(spec: ErasureSpec, physical: str) -> exp.Select:
    """The subject's deletion requests (with their id when the registry has one), oldest first."""
    columns = [exp.alias_(sql.column(None, spec.requested_at), "requested_at")]
    if spec.request_id:
        columns.append(exp.alias_(sql.column(None, spec.request_id), "request_id"))
    return (exp.select(*columns).from_(_table(physical)).where(is_subject(spec.subject))
            .order_by(*_oldest_first(spec.requested_at, *([spec.request_id] if spec.request_id else []))))


def fetch(warehouse, query: exp.Select, subject: str, what: str) -> list[dict[str, Any]]:
    """Run a subject query on the warehouse seam; rows as dicts. A missing relation or column is a
    UsageError naming `what` (a busy or unreachable warehouse stays its own message)."""
    from veil.warehouse import StatementError

    try:
        return warehouse.records(query, [subject])
    except StatementError as exc:
        raise UsageError(f"{what}: {exc.reason} (does the policy match the warehouse?)") from None
