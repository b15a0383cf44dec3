"""Consent as first-class data: the current-consent model and the consent filter.

Semantics (DESIGN.md, issue "Consent filters"):
- the consent relation holds one row per decision; the current state of a
  (subject, purpose) is its latest record, and a tie between a grant and a
  denial denies (`BOOL_AND` over the latest records);
- purposes are dotted: a decision on `marketing` covers `marketing.email`,
  and a decision on the child overrides its parent for the child;
- `opt_in` keeps a subject only if the current state is granted, `opt_out`
  keeps a subject unless it is denied, `none` keeps everyone.

The filter is an `EXISTS` / `NOT EXISTS` on the subject, which DuckDB runs as
a hash semi-join / anti-join, not as a subquery per row.
"""

from __future__ import annotations

from sqlglot import exp

from veil.compile import sql
from veil.compile.jinja_text import (
    literal,
    literal_tree,
    properties_yml,
    sql_comment,
    switch,
)
from veil.compile.naming import (
    CONSENT_FILTER_MACRO,
    CONSENT_MODEL,
    SQL_HEADER,
    YAML_HEADER,
)
from veil.compile.render_macros import DIALECT_BODIES, dispatching_macro
from veil.policy.loaded import Policies
from veil.policy.models import ConsentMode
from veil.policy.purposes import lineage
from veil.policy.relation import parse_relation

SUBJECT, PURPOSE, GRANTED, RECORDED_AT = "subject", "purpose", "granted", "recorded_at"
CONSENT_ALIAS = "veil_consent"


def consent_needed(policies: Policies) -> list[str]:
    """Audiences whose purpose filters on consent (opt_in or opt_out)."""
    project = policies.project
    return [a for a in policies.audience_names()
            if project.consent_mode(project.audiences[a].purpose) is not ConsentMode.NONE]


def build_consent_model(policies: Policies) -> exp.Select:
    """One row per (subject, purpose): the latest decision; a tie denies."""
    spec = policies.project.consent
    assert spec is not None
    recency = exp.Window(
        this=exp.Anonymous(this="RANK"),
        partition_by=[sql.column(None, spec.subject), sql.column(None, spec.purpose)],
        order=exp.Order(expressions=[exp.Ordered(this=sql.column(None, spec.recorded_at), desc=True)]),
    )
    not_null = [exp.Not(this=exp.Is(this=sql.column(None, c), expression=exp.Null()))
                for c in (spec.subject, spec.purpose, spec.recorded_at)]
    ranked = exp.select(
        exp.alias_(sql.column(None, spec.subject), SUBJECT),
        exp.alias_(sql.column(None, spec.purpose), PURPOSE),
        exp.alias_(sql.column(None, spec.granted), GRANTED),
        exp.alias_(sql.column(None, spec.recorded_at), RECORDED_AT),
        exp.alias_(recency, "recency"),
    ).from_(sql.relation_table(parse_relation(spec.relation).jinja, "decisions")).where(exp.and_(*not_null))
    granted = exp.func("BOOL_AND", exp.func("COALESCE", exp.column(GRANTED), exp.false()))
    return (
        exp.select(SUBJECT, PURPOSE, exp.alias_(granted, GRANTED),
                   exp.alias_(exp.func("MAX", exp.column(RECORDED_AT)), RECORDED_AT))
        .with_("ranked", as_=ranked)
        .from_("ranked")
        .where(exp.EQ(this=exp.column("recency"), expression=exp.Literal.number(1)))
        .group_by(SUBJECT, PURPOSE)
    )


def render_consent_model(policies: Policies, dialect: str = "duckdb") -> str:
    """`models/veil/veil_consent_current.sql`."""
    relation = parse_relation(policies.project.consent.relation)
    return "\n".join([
        SQL_HEADER,
        "-- " + sql_comment(f"current consent per (subject, purpose) from {relation}: "
                            "latest decision wins, a tie between a grant and a denial denies"),
        "{{ config(materialized='table') }}",
        "",
        build_consent_model(policies).sql(dialect=dialect, pretty=True),
        "",
    ])


def render_consent_yml(policies: Policies) -> str:
    spec = policies.project.consent
    relation = str(parse_relation(spec.relation))
    entry = {
        "name": CONSENT_MODEL,
        "description": literal(f"Current consent state. Grain: one row per subject and purpose recorded in "
                               f"{relation}. The latest decision wins; a tie between a grant and a denial "
                               "denies; NULL granted counts as a denial; records without subject, purpose or "
                               "time are ignored."),
        "config": {"meta": {"veil": literal_tree({"consent_relation": relation})}},
        "columns": [
            {"name": SUBJECT, "description": literal(f"The data subject ({spec.subject})."),
             "data_tests": ["not_null"]},
            {"name": PURPOSE, "description": "The purpose decided on, as recorded.", "data_tests": ["not_null"]},
            {"name": GRANTED, "description": "The current state: true when granted.", "data_tests": ["not_null"]},
            {"name": RECORDED_AT, "description": "When the current decision was recorded."},
        ],
    }
    return f"{YAML_HEADER}\n{properties_yml({'version': 2, 'models': [entry]})}"


def _effective(purpose: str) -> exp.Select:
    """Per subject, the decision on the most specific purpose of the lineage."""
    current = sql.relation_table(f"{{{{ ref('{CONSENT_MODEL}') }}}}", "current_consent")
    names = lineage(purpose)
    if len(names) == 1:
        return exp.select(SUBJECT, GRANTED).from_(current).where(
            exp.EQ(this=exp.column(PURPOSE), expression=exp.Literal.string(purpose)))
    specificity = exp.Window(
        this=exp.RowNumber(), partition_by=[exp.column(SUBJECT)],
        order=exp.Order(expressions=[exp.Ordered(this=exp.Length(this=exp.column(PURPOSE)), desc=True)]))
    ranked = exp.select(SUBJECT, GRANTED, exp.alias_(specificity, "specificity")).from_(current).where(
        exp.In(this=exp.column(PURPOSE), expressions=[exp.Literal.string(n) for n in names]))
    return exp.select(SUBJECT, GRANTED).from_(ranked.subquery("decisions")).where(
        exp.EQ(this=exp.column("specificity"), expression=exp.Literal.number(1)))


def consent_predicate(purpose: str, mode: ConsentMode, subject: exp.Expression) -> exp.Expression:
    """TRUE for rows whose subject may be included for `purpose`."""
    if mode is ConsentMode.NONE:
        return exp.true()
    granted = sql.column(CONSENT_ALIAS, GRANTED)
    match = exp.EQ(this=sql.column(CONSENT_ALIAS, SUBJECT), expression=subject)
    state = granted if mode is ConsentMode.OPT_IN else exp.Not(this=granted)
    lookup = exp.select(exp.Literal.number(1)).from_(_effective(purpose).subquery(CONSENT_ALIAS)).where(
        exp.And(this=match, expression=state))
    found = exp.Exists(this=lookup)
    return found if mode is ConsentMode.OPT_IN else exp.Not(this=found)


def render_consent_macros(policies: Policies) -> str | None:
    """`macros/veil/veil_consent.sql`: `veil_consent_filter(purpose, subject_column)`."""
    if policies.project.consent is None:
        return None
    project = policies.project
    subject = sql.jinja("{{ subject_column }}")
    bodies = {}
    for prefix, dialect in DIALECT_BODIES:
        cases = {p: consent_predicate(p, project.consent_mode(p), subject.copy()).sql(dialect=dialect)
                 for p in project.purposes}
        bodies[prefix] = switch("purpose", cases, "veil_consent_filter: unknown purpose (declare it in policies/veil.yml)")
    doc = ("True for rows whose subject may be used for the purpose, per its consent mode. "
           "Usage in your own models: where {{ veil_consent_filter('marketing', 'u.user_id') }}")
    return "\n\n".join([SQL_HEADER, dispatching_macro(CONSENT_FILTER_MACRO, "purpose, subject_column", bodies, doc)]) + "\n"
