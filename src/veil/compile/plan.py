"""Decide, per audience and table, what happens to every column.

A pure stage: policies in, a plan out. DESIGN.md's rule, first match wins:
1. a masking strategy for the purpose (or a parent): masked (`drop` drops);
2. the purpose (or a parent) is not allowed: dropped;
3. the purpose (or a parent) is allowed: raw;
4. NON_PII or PSEUDONYMOUS: raw;
5. anything else, unclassified included: dropped.

>>> from veil.policy.models import ColumnPolicy
>>> email = ColumnPolicy.model_validate({"name": "email", "type": "STRING",
...     "pii_classification": "DIRECT_PII", "data_handling": {"not_allowed": ["analytics"],
...     "masking": {"analytics": {"strategy": "domain_only"}}}})
>>> decide(email, "analytics.reporting").action, decide(email, "ml_training").action
(<Action.MASK: 'mask'>, <Action.DROP: 'drop'>)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import Classification, ColumnPolicy
from veil.policy.purposes import covers, nearest

RAW_BY_DEFAULT = {Classification.NON_PII, Classification.PSEUDONYMOUS}


class Action(str, enum.Enum):
    """What an audience model does with a source column."""

    RAW = "raw"
    MASK = "mask"
    DROP = "drop"


@dataclass(frozen=True)
class ColumnDecision:
    """One column's fate for one purpose, and why."""

    column: ColumnPolicy
    action: Action
    reason: str
    strategy: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.column.name


def decide(column: ColumnPolicy, purpose: str, reveal: bool = False) -> ColumnDecision:
    """Apply the first-match-wins rule to one column for one purpose.

    `reveal`: the audience may reveal this column (`may_reveal`), so it gets the original.
    """
    if reveal:
        return ColumnDecision(column, Action.RAW, "may_reveal grants this audience the original")
    handling = column.data_handling
    masked_for = nearest(purpose, handling.masking)
    if masked_for is not None:
        rule = handling.masking[masked_for]
        if rule.strategy == "drop":
            return ColumnDecision(column, Action.DROP, f"masking for {masked_for}: drop")
        return ColumnDecision(column, Action.MASK, f"masking for {masked_for}: {rule.strategy}",
                              rule.strategy, tuple(sorted(rule.options.items())))
    forbidden = next((p for p in handling.not_allowed if covers(p, purpose)), None)
    if forbidden:
        return ColumnDecision(column, Action.DROP, f"{forbidden} is not allowed")
    allowed = next((p for p in handling.allowed_uses if covers(p, purpose)), None)
    if allowed:
        return ColumnDecision(column, Action.RAW, f"{allowed} is an allowed use")
    if column.classification in RAW_BY_DEFAULT:
        return ColumnDecision(column, Action.RAW, f"{column.classification.value} is kept by default")
    unclassified = " (unclassified counts as DIRECT_PII)" if column.pii_classification is None else ""
    return ColumnDecision(column, Action.DROP,
                          f"{column.classification.value} is dropped by default{unclassified}")


@dataclass(frozen=True)
class ModelPlan:
    """One generated audience model: `<audience>__<table>`."""

    audience: str
    purpose: str
    table: LoadedTable
    decisions: tuple[ColumnDecision, ...]

    @property
    def name(self) -> str:
        return f"{self.audience}__{self.table.name}"

    @property
    def kept(self) -> list[ColumnDecision]:
        return [d for d in self.decisions if d.action is not Action.DROP]

    @property
    def dropped(self) -> list[ColumnDecision]:
        return [d for d in self.decisions if d.action is Action.DROP]

    @property
    def subject_decision(self) -> ColumnDecision | None:
        subject = self.table.policy.subject_column
        return next((d for d in self.decisions if subject and d.name.lower() == subject.lower()), None)


@dataclass(frozen=True)
class ProjectPlan:
    """Every model to generate, sorted by audience then table."""

    policies: Policies
    models: tuple[ModelPlan, ...]
    skipped: tuple[tuple[str, str], ...]   # (audience, table) pairs with no column left

    def for_audience(self, audience: str) -> list[ModelPlan]:
        return [m for m in self.models if m.audience == audience]


def plan_project(policies: Policies) -> ProjectPlan:
    """Plan every audience model of the project."""
    models, skipped = [], []
    for audience in policies.audience_names():
        spec = policies.project.audiences[audience]
        purpose = spec.purpose
        reveals = {target.lower() for target in spec.may_reveal}
        for table in policies.table_list():
            decisions = tuple(decide(column, purpose, f"{table.name}.{column.name}".lower() in reveals)
                              for column in table.policy.columns)
            model = ModelPlan(audience, purpose, table, decisions)
            if model.kept:
                models.append(model)
            else:
                skipped.append((audience, table.name))
    return ProjectPlan(policies, tuple(models), tuple(skipped))
