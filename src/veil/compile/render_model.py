"""Render one audience model: a dbt model as a sqlglot tree.

Shape of the output (DuckDB):

    WITH masked__device_id AS (          -- keyed or costly strategies: once per distinct value
      SELECT device_id AS raw_value, {{ veil_mask_hash('device_id') }} AS masked_value
      FROM (SELECT DISTINCT device_id FROM {{ source('raw', 'events') }}) AS distinct_values
    )
    SELECT src.event_id, masked__device_id.masked_value AS device_id, ...
    FROM {{ source('raw', 'events') }} AS src
    LEFT JOIN masked__device_id ON src.device_id = masked__device_id.raw_value
    WHERE {{ veil_erasure_filter('src.user_id') }}
      AND {{ veil_consent_filter('analytics', 'src.user_id') }}
      AND {{ veil_retention_filter('events', 'src.event_ts') }}

A column with a shorter retention than its table is NULL past its age:
`CASE WHEN {{ veil_within_days('src.event_ts', 30) }} THEN <value> END`.

HMAC and long regex chains cost far more than a scan, and the columns they
mask (device ids, IPs, emails) repeat, so masking each distinct value once and
joining back is the cheap way (see scripts/bench/masked_build.py).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlglot import exp

from veil.compile import sql
from veil.compile.jinja_text import sql_comment
from veil.compile.naming import (
    CONSENT_FILTER_MACRO,
    ERASURE_FILTER_MACRO,
    RETENTION_FILTER_MACRO,
    REVERSIBLE_MACRO,
    SQL_HEADER,
    WITHIN_DAYS_MACRO,
    lookup_cte,
    mask_macro,
)
from veil.compile.plan import Action, ColumnDecision, ModelPlan
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ConsentMode
from veil.policy.relation import parse_relation
from veil.policy.validate import by_relation
from veil.strategies import MaskContext, get_strategy

SOURCE_ALIAS = "src"
SUBJECT_LOOKUP, KEY_ALIAS, SUBJECT_ALIAS = "veil_subject_lookup", "veil_key", "veil_subject"
RAW_VALUE = "raw_value"
MASKED_VALUE = "masked_value"
def _inline(strategy: str) -> bool:
    """Strategies written into the model itself, not through a dbt macro: a typed NULL
    (the type is known here) and the reversible ones (options and table.column as arguments)."""
    return strategy == "null" or get_strategy(strategy).reversible


def _per_distinct(decision: ColumnDecision) -> bool:
    """Masked once per distinct value and joined back; `tokenize` binds each row's subject, so not it."""
    return (decision.action is Action.MASK and get_strategy(decision.strategy).once_per_distinct_value
            and decision.strategy != "tokenize")


def subject_chain(table: LoadedTable, policies: Policies) -> list[LoadedTable]:
    """The policy tables a `via` table reaches its subject through, nearest first (validated acyclic)."""
    tables = by_relation(policies)
    chain: list[LoadedTable] = []
    via = table.policy.via
    while via is not None:
        parent = tables[str(parse_relation(via.relation))]
        chain.append(parent)
        via = parent.policy.via
    return chain


def _subject_lookup(model: ModelPlan, policies: Policies) -> exp.Select:
    """(veil_key, veil_subject): the subject of each key a `via` table references, through every hop."""
    chain = subject_chain(model.table, policies)
    first = chain[0]
    query = exp.select(exp.alias_(sql.column("p0", model.table.policy.via.key), KEY_ALIAS)).from_(
        sql.relation_table(first.relation.jinja, "p0"))
    for hop, parent in enumerate(chain[1:], start=1):
        via = chain[hop - 1].policy.via
        on = exp.EQ(this=sql.column(f"p{hop - 1}", via.via), expression=sql.column(f"p{hop}", via.key))
        query = query.join(sql.relation_table(parent.relation.jinja, f"p{hop}"), on=on, join_type="inner")
    last = len(chain) - 1
    query = query.select(exp.alias_(sql.column(f"p{last}", chain[-1].policy.subject_column), SUBJECT_ALIAS))
    return query.distinct()


def subject_expression(model: ModelPlan) -> exp.Column | None:
    """The SQL of each row's subject id in an audience model: its column, or the `via` lookup's."""
    policy = model.table.policy
    if policy.subject_column:
        return sql.column(SOURCE_ALIAS, policy.subject_column)
    if policy.via is not None:
        return sql.column(SUBJECT_LOOKUP, SUBJECT_ALIAS)
    return None


def masked(decision: ColumnDecision, table: str, column: exp.Column, dialect: str,
           subject: exp.Expression | None = None) -> exp.Expression:
    """The masking of `column` (a reference to the decision's column) for a model."""
    if _inline(decision.strategy):
        context = MaskContext(options=dict(decision.options), column_type=decision.column.type,
                              table=table, column=decision.name, subject=subject)
        expression = get_strategy(decision.strategy).build(column, context)
        if not get_strategy(decision.strategy).reversible:
            return expression
        # a keyed function that each adapter keeps elsewhere: dispatched (veil_reversible)
        return sql.macro_call(REVERSIBLE_MACRO, decision.strategy, expression.sql(dialect="duckdb"))
    return sql.macro_call(mask_macro(decision.strategy), column.sql(dialect=dialect))


def column_expiry_days(decision: ColumnDecision, model: ModelPlan, policies: Policies) -> int | None:
    """Days after which the column is NULL while its row stays (shorter than the table's)."""
    days = decision.column.data_handling.retention_days
    table_days = policies.retention_days(model.table)
    if days is None or (table_days is not None and days >= table_days):
        return None
    return days


def _projection(decision: ColumnDecision, model: ModelPlan, policies: Policies, dialect: str) -> exp.Expression:
    if decision.action is Action.RAW:
        value: exp.Expression = sql.column(SOURCE_ALIAS, decision.name)
    elif _per_distinct(decision):
        value = sql.column(lookup_cte(decision.name), MASKED_VALUE)
    else:
        value = masked(decision, model.table.name, sql.column(SOURCE_ALIAS, decision.name), dialect,
                       subject_expression(model))
    days = column_expiry_days(decision, model, policies)
    if days is not None:
        event_time = sql.column_sql(SOURCE_ALIAS, model.table.policy.event_time, dialect)
        young = sql.jinja(f"{{{{ {WITHIN_DAYS_MACRO}('{event_time}', {days}) }}}}")
        value = exp.Case(ifs=[exp.If(this=young, true=value)])
    return exp.alias_(value, exp.to_identifier(decision.name))


def _distinct_lookup(model: ModelPlan, decision: ColumnDecision, dialect: str) -> exp.Select:
    """Distinct raw values of a column with their masked value."""
    raw = sql.column(None, decision.name)
    distinct = exp.select(raw).distinct().from_(sql.relation_table(model.table.relation.jinja, "distinct_source"))
    value = masked(decision, model.table.name, raw.copy(), dialect)
    return exp.select(exp.alias_(raw.copy(), RAW_VALUE), exp.alias_(value, MASKED_VALUE)).from_(
        exp.Subquery(this=distinct, alias=exp.TableAlias(this=exp.to_identifier("distinct_values"))))


def row_filters(model: ModelPlan, policies: Policies, dialect: str) -> list[tuple[str, exp.Expression]]:
    """Predicates every row of the model must pass, by kind: erasure, consent, retention."""
    filters: list[tuple[str, exp.Expression]] = []
    project, policy = policies.project, model.table.policy
    subject_column = subject_expression(model)
    if subject_column is not None:
        subject = subject_column.sql(dialect=dialect)
        if project.erasure is not None:
            filters.append(("erasure", sql.macro_call(ERASURE_FILTER_MACRO, subject)))
        if project.consent is not None and project.consent_mode(model.purpose) is not ConsentMode.NONE:
            filters.append(("consent", sql.macro_call(CONSENT_FILTER_MACRO, model.purpose, subject)))
    if policies.retention_days(model.table):
        event_time = sql.column_sql(SOURCE_ALIAS, policy.event_time, dialect)
        filters.append(("retention", sql.macro_call(RETENTION_FILTER_MACRO, model.table.name, event_time)))
    return filters


def build_model_query(model: ModelPlan, policies: Policies, dialect: str = "duckdb",
                      filter_kinds: Collection[str] = ("erasure", "consent", "retention")) -> exp.Select:
    """The SELECT of an audience model, as a sqlglot tree.

    `filter_kinds` leaves row filters out (benchmarks compare with and without).
    """
    query = exp.select(*(_projection(d, model, policies, dialect) for d in model.kept)).from_(
        sql.relation_table(model.table.relation.jinja, SOURCE_ALIAS))
    if model.table.policy.via is not None:
        query = query.with_(SUBJECT_LOOKUP, as_=_subject_lookup(model, policies))
        on = exp.EQ(this=sql.column(SOURCE_ALIAS, model.table.policy.via.via),
                    expression=sql.column(SUBJECT_LOOKUP, KEY_ALIAS))
        query = query.join(exp.Table(this=exp.to_identifier(SUBJECT_LOOKUP)), on=on, join_type="left")
    for decision in filter(_per_distinct, model.kept):
        cte = lookup_cte(decision.name)
        query = query.with_(cte, as_=_distinct_lookup(model, decision, dialect))
        on = exp.EQ(this=sql.column(SOURCE_ALIAS, decision.name), expression=sql.column(cte, RAW_VALUE))
        query = query.join(exp.Table(this=exp.to_identifier(cte)), on=on, join_type="left")
    where = sql.conjunction([predicate for kind, predicate in row_filters(model, policies, dialect)
                             if kind in filter_kinds])
    if where is not None:
        query.set("where", exp.Where(this=where))
    return query


def render_model(model: ModelPlan, policies: Policies, dialect: str = "duckdb") -> str:
    """The full text of `models/veil/<audience>/<audience>__<table>.sql`."""
    lines = [
        SQL_HEADER,
        "-- " + sql_comment(f"audience {model.audience} (purpose {model.purpose}) over {model.table.relation}; "
                            f"policy {model.table.path}"),
        "{{ config(materialized='table') }}",
        "",
        build_model_query(model, policies, dialect).sql(dialect=dialect, pretty=True),
        "",
    ]
    return "\n".join(lines)
