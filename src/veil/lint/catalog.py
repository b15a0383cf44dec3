"""What the linter knows about relations: policy tables and audience models.

A query names relations the way its dialect does (`raw.users`, `users`,
`"wh"."main"."analyst__users"`); the catalog maps those names back to policy
tables, comparing identifiers case-insensitively like DuckDB:

- a raw policy table: its relation's `schema.table` for a source
  (`source('raw', 'users')` is `raw.users`) or its model name for a ref, and
  its bare table name when no other relation claims it;
- an audience model `<audience>__<table>`: already masked for the audience.

>>> from veil.policy.load import load_policies
>>> from veil.compile.plan import plan_project
>>> catalog = PolicyCatalog.build(plan_project(load_policies(".")))
>>> catalog.lookup(["RAW", "Users"]).table, catalog.lookup(["wh", "main", "analyst__users"]).audience
('users', 'analyst')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from veil.compile.plan import Action, ColumnDecision, ModelPlan, ProjectPlan, decide
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ColumnPolicy


@dataclass(frozen=True)
class RelationEntry:
    """A relation the catalog knows: a policy table's raw relation or an audience model."""

    key: str                        # canonical name used inside the linter
    table: str                      # the policy table
    loaded: LoadedTable = field(repr=False)
    audience: str | None = None     # set for audience models
    model: ModelPlan | None = field(default=None, repr=False)

    @property
    def columns(self) -> list[str]:
        """Columns the relation has, as the policy (or the model) lists them."""
        if self.model is not None:
            return [d.name.lower() for d in self.model.kept]
        return [c.name.lower() for c in self.loaded.policy.columns]

    def column(self, name: str) -> ColumnPolicy | None:
        return self.loaded.policy.column(name)

    def model_decision(self, name: str) -> ColumnDecision | None:
        if self.model is None:
            return None
        return next((d for d in self.model.kept if d.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class BaseColumn:
    """A policy column that an output column of a derived relation carries."""

    entry: RelationEntry
    column: str
    masked_by: str | None


@dataclass
class DerivedRelation:
    """A dbt model that is not a policy table but carries policy columns (a staging view...).

    `columns` maps each output column to the policy columns it is made of, so
    a query reading `stg_users.email` uses `users.email`.
    """

    key: str
    name: str
    columns: dict[str, list[BaseColumn]]


@dataclass
class PolicyCatalog:
    """Relations by every name a query may use for them (lower-cased)."""

    policies: Policies
    by_name: dict[tuple[str, ...], RelationEntry]
    audience_models: dict[str, dict[str, RelationEntry]]   # purpose -> table -> audience model entry
    derived: dict[str, DerivedRelation] = field(default_factory=dict)   # lower-cased model name -> relation

    @classmethod
    def build(cls, plan: ProjectPlan) -> PolicyCatalog:
        by_name: dict[tuple[str, ...], RelationEntry] = {}
        bare: dict[str, list[RelationEntry]] = {}
        for table in plan.policies.table_list():
            relation = table.relation
            entry = RelationEntry(f"veil__{table.name}", table.name, table)
            by_name[tuple(part.lower() for part in relation.identifier.split("."))] = entry
            bare.setdefault(relation.name.lower(), []).append(entry)
            bare.setdefault(table.name.lower(), []).append(entry)
        audience_models: dict[str, dict[str, RelationEntry]] = {}
        for model in plan.models:
            entry = RelationEntry(f"veil__{model.name}", model.table.name, model.table, model.audience, model)
            by_name[(model.name.lower(),)] = entry
            audience_models.setdefault(model.purpose, {})[model.table.name] = entry
        for name, entries in bare.items():
            unique = {e.key for e in entries}
            if len(unique) == 1 and (name,) not in by_name:
                by_name[(name,)] = entries[0]
        return cls(plan.policies, by_name, audience_models)

    def lookup(self, parts: Sequence[str]) -> RelationEntry | DerivedRelation | None:
        """The entry for a possibly qualified name (`catalog.schema.table`, `schema.table`, `table`)."""
        lowered = tuple(p.lower() for p in parts if p)
        if lowered and lowered[-1] in self.derived and lowered[-1:] not in self.by_name:
            return self.derived[lowered[-1]]
        for size in (2, 1):
            if len(lowered) >= size and lowered[-size:] in self.by_name:
                entry = self.by_name[lowered[-size:]]
                if size == 1 and len(lowered) > 1 and entry.model is None and entry.loaded.relation.kind == "source":
                    continue   # `other.users` is not `raw.users`
                return entry
        return None

    def add_derived(self, name: str, columns: dict[str, list[BaseColumn]]) -> None:
        """Register a model whose outputs carry policy columns."""
        if columns and (name.lower(),) not in self.by_name:
            self.derived[name.lower()] = DerivedRelation(f"veil__derived__{name.lower()}", name, columns)

    def entries(self) -> list[RelationEntry]:
        return sorted({e.key: e for e in self.by_name.values()}.values(), key=lambda e: e.key)

    def decision(self, entry: RelationEntry, column: str, purpose: str) -> ColumnDecision | None:
        """The policy's decision for `column` of the entry's table under `purpose`."""
        policy = entry.column(column)
        return decide(policy, purpose) if policy is not None else None

    def allowed_raw(self, entry: RelationEntry, column: str, purpose: str) -> bool:
        decision = self.decision(entry, column, purpose)
        return decision is not None and decision.action is Action.RAW
