"""Render the properties yml beside each audience model: docs, meta, tests.

`meta.veil` on the model says which audience, purpose and policy it serves
(`veil lint` reads the purpose from it); `meta.veil` on each column says how
the column was handled and why.

dbt renders descriptions and `meta` as Jinja, so both pass through
`jinja_text.literal`: a description reaches the manifest as written.
"""

from __future__ import annotations

from typing import Any

from veil.compile.jinja_text import literal, literal_tree, properties_yml
from veil.compile.naming import YAML_HEADER
from veil.compile.plan import Action, ColumnDecision, ModelPlan
from veil.compile.render_model import column_expiry_days
from veil.policy.loaded import Policies
from veil.policy.models import Classification, ConsentMode
from veil.policy.purposes import lineage
from veil.policy.relation import parse_relation
from veil.strategies import get_strategy


def _column_description(decision: ColumnDecision) -> str:
    base = (decision.column.description or "").rstrip(".")
    if decision.action is Action.MASK:
        how = f"Masked with `{decision.strategy}` ({get_strategy(decision.strategy).description})"
    else:
        how = "Raw value"
    reason = f"{how}: {decision.reason}."
    return f"{base}. {reason}" if base else reason


def _subject_tests(model: ModelPlan, policies: Policies) -> list[dict[str, Any]]:
    """Tests on the raw subject column: not erased, consented."""
    project = policies.project
    tests: list[dict[str, Any]] = []
    if project.erasure:
        tests.append({"veil_not_erased": {"arguments": {
            "erasure_relation": str(parse_relation(project.erasure.relation)),
            "erasure_subject": project.erasure.subject}}})
    mode = project.consent_mode(model.purpose)
    if project.consent and mode is not ConsentMode.NONE:
        spec = project.consent
        tests.append({"veil_consented": {"arguments": {
            "consent_relation": str(parse_relation(spec.relation)), "consent_subject": spec.subject,
            "consent_purpose": spec.purpose, "consent_granted": spec.granted,
            "consent_recorded_at": spec.recorded_at, "purposes": lineage(model.purpose), "mode": mode.value}}})
    return tests


def _retention_test(model: ModelPlan, policies: Policies) -> list[dict[str, Any]]:
    """The table's and columns' retention, checked when the event time is kept raw."""
    event_time = model.table.policy.event_time
    kept_raw = any(d.name == event_time and d.action is Action.RAW for d in model.kept)
    days = policies.retention_days(model.table)
    expiring = [{"name": d.name, "days": column_expiry_days(d, model, policies)}
                for d in model.kept if column_expiry_days(d, model, policies)]
    if not kept_raw or not (days or expiring):
        return []
    arguments: dict[str, Any] = {"event_time": event_time}
    if days:
        arguments["retention_days"] = days
    if expiring:
        arguments["expiring_columns"] = expiring
    return [{"veil_within_retention": {"arguments": arguments}}]


def _column_entry(decision: ColumnDecision, model: ModelPlan, policies: Policies) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "classification": decision.column.classification.value,
        "handling": decision.action.value,
        "reason": decision.reason,
    }
    if decision.strategy:
        meta["strategy"] = decision.strategy
    description = _column_description(decision)
    expiry = column_expiry_days(decision, model, policies)
    if expiry:
        meta["retention_days"] = expiry
        description += f" NULL once the row is older than {expiry} days (the row is kept)."
    entry: dict[str, Any] = {
        "name": decision.name,
        "description": literal(description),
        "config": {"meta": {"veil": literal_tree(meta)}},
    }
    subject = model.table.policy.subject_column
    is_subject = subject is not None and decision.name.lower() == subject.lower()
    if is_subject and decision.action is Action.RAW:
        tests = _subject_tests(model, policies)
        if tests:
            entry["data_tests"] = tests
    return entry


def _model_tests(model: ModelPlan) -> list[dict[str, Any]]:
    protected = [d.name for d in model.decisions
                 if d.column.classification is Classification.DIRECT_PII and d.action is not Action.RAW]
    if not protected:
        return []
    return [{"veil_no_raw_values": {"arguments": {
        "source_relation": str(model.table.relation),
        "source_columns": protected,
        "model_columns": [d.name for d in model.kept],
    }}}]


def audience_config(audience: str, policies: Policies) -> dict[str, Any]:
    """dbt config every model of the audience carries: its custom schema and its grants (when set).

    dbt names a custom schema `<target schema>_<schema>` (`generate_schema_name`);
    `grants` is dbt's native grants config (DuckDB has no grants: dbt-duckdb warns and skips them).
    """
    spec = policies.project.audiences[audience]
    config: dict[str, Any] = {}
    if spec.schema_:
        config["schema"] = spec.schema_
    if spec.grants:
        config["grants"] = {"select": list(spec.grants)}
    return config


def render_model_yml(model: ModelPlan, policies: Policies) -> str:
    """The text of `models/veil/<audience>/<audience>__<table>.yml`."""
    table = model.table
    description = (
        f"{table.name} for the `{model.audience}` audience (purpose `{model.purpose}`): "
        f"{len(model.kept)} of {len(model.decisions)} columns, masked per {table.path}. "
        "Excludes erased subjects, subjects without consent for the purpose and rows past retention. "
        "Grain: one row per row of the source that passes those filters."
    )
    entry: dict[str, Any] = {
        "name": model.name,
        "description": literal(description),
        "config": {"meta": {"veil": literal_tree({
            "audience": model.audience,
            "purpose": model.purpose,
            "table": table.name,
            "relation": str(table.relation),
            "policy": table.path,
            "dropped_columns": [d.name for d in model.dropped],
        })}},
    }
    entry["config"].update(audience_config(model.audience, policies))
    tests = _model_tests(model) + _retention_test(model, policies)
    if tests:
        entry["data_tests"] = tests
    entry["columns"] = [_column_entry(d, model, policies) for d in model.kept]
    return f"{YAML_HEADER}\n{properties_yml({'version': 2, 'models': [entry]})}"
