"""Render the properties yml beside each audience model: docs, meta, tests.

`meta.veil` on the model says which audience, purpose and policy it serves
(`veil lint` reads the purpose from it); `meta.veil` on each column says how
the column was handled and why.
"""

from __future__ import annotations

from typing import Any

import yaml

from veil.compile.naming import YAML_HEADER
from veil.compile.plan import Action, ColumnDecision, ModelPlan
from veil.policy.loaded import Policies
from veil.policy.models import Classification
from veil.strategies import get_strategy


def _column_description(decision: ColumnDecision) -> str:
    base = (decision.column.description or "").rstrip(".")
    if decision.action is Action.MASK:
        how = f"Masked with `{decision.strategy}` ({get_strategy(decision.strategy).description})"
    else:
        how = "Raw value"
    reason = f"{how}: {decision.reason}."
    return f"{base}. {reason}" if base else reason


def _column_entry(decision: ColumnDecision, model: ModelPlan, policies: Policies) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "classification": decision.column.classification.value,
        "handling": decision.action.value,
        "reason": decision.reason,
    }
    if decision.strategy:
        meta["strategy"] = decision.strategy
    entry: dict[str, Any] = {
        "name": decision.name,
        "description": _column_description(decision),
        "config": {"meta": {"veil": meta}},
    }
    erasure = policies.project.erasure
    is_subject = model.table.policy.subject and decision.name.lower() == model.table.policy.subject.lower()
    if erasure and is_subject and decision.action is Action.RAW:
        entry["data_tests"] = [{"veil_not_erased": {"arguments": {
            "erasure_relation": erasure.relation, "erasure_subject": erasure.subject}}}]
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


def render_model_yml(model: ModelPlan, policies: Policies) -> str:
    """The text of `models/veil/<audience>/<audience>__<table>.yml`."""
    table = model.table
    description = (
        f"{table.name} for the `{model.audience}` audience (purpose `{model.purpose}`): "
        f"{len(model.kept)} of {len(model.decisions)} columns, masked per {table.path}. "
        "Excludes erased subjects. One row per row of the source that passes the filters."
    )
    entry: dict[str, Any] = {
        "name": model.name,
        "description": description,
        "config": {"meta": {"veil": {
            "audience": model.audience,
            "purpose": model.purpose,
            "table": table.name,
            "relation": str(table.relation),
            "policy": table.path,
            "dropped_columns": [d.name for d in model.dropped],
        }}},
    }
    tests = _model_tests(model)
    if tests:
        entry["data_tests"] = tests
    entry["columns"] = [_column_entry(d, model, policies) for d in model.kept]
    body = yaml.safe_dump({"version": 2, "models": [entry]}, sort_keys=False, allow_unicode=True, width=100)
    return f"{YAML_HEADER}\n{body}"
