"""What the linter knows about relations: policy tables and audience models.

A query names relations the way its dialect does (`raw.users`, `users`,
`"wh"."main"."analyst__users"`); the catalog maps those names back to policy
tables, comparing identifiers case-insensitively like DuckDB:

- a raw policy table: its relation's `schema.table` for a source
  (`source('raw', 'users')` is `raw.users`) or its model name for a ref, and
  its bare table name when no other relation claims it;
- an audience model `<audience>__<table>`: already masked for the audience.

With a dbt manifest, each of them is also known by its physical name as dbt
compiles it (`database.schema.identifier` and `schema.identifier`): a source
whose name is not its schema, an `identifier:` override, a model's or seed's
`alias`, a custom schema. A physical name two relations claim (or that is
another relation's name above) is nobody's: it matches none of them, and every
other name keeps working. Derived relations (dbt models carrying policy
columns, see `add_derived`) are known by their physical names and their alias.

>>> from veil.policy.load import load_policies
>>> from veil.compile.plan import plan_project
>>> catalog = PolicyCatalog.build(plan_project(load_policies(".")))
>>> catalog.lookup(["RAW", "Users"]).table, catalog.lookup(["wh", "main", "analyst__users"]).audience
('users', 'analyst')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.compile.naming import MODELS_DIR
from veil.compile.plan import Action, ColumnDecision, ModelPlan, ProjectPlan, decide
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ColumnPolicy
from veil.policy.relation import Relation

Name = tuple[str, ...]
DBT_RELATIONS = {"model", "seed", "snapshot"}     # manifest nodes `ref()` resolves to


def physical_name(node: Mapping[str, Any]) -> Name | None:
    """Where dbt puts a manifest source or node: `(database, schema, identifier)`, lower-cased.

    The identifier is a source's `identifier`, a model's or seed's `alias`.
    None when it has no relation (an ephemeral model is inlined as a CTE).

    >>> physical_name({"database": "WH", "schema": "raw", "identifier": "Customers_v2", "name": "customers"})
    ('wh', 'raw', 'customers_v2')
    >>> physical_name({"schema": "main", "alias": "stg", "relation_name": None}) is None
    True
    """
    if "relation_name" in node and not node["relation_name"]:
        return None
    if ((node.get("config") or {}).get("materialized")) == "ephemeral":
        return None
    identifier = node.get("identifier") or node.get("alias") or node.get("name")
    schema = node.get("schema")
    if not identifier or not schema:
        return None
    return tuple(str(part).lower() for part in (node.get("database"), schema, identifier) if part)


def _names(physical: Name) -> list[Name]:
    """The names a query may use for a physical relation: fully qualified, then `schema.identifier`."""
    return [physical[-size:] for size in (3, 2) if len(physical) >= size]


def _one(candidates: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The only candidate (a versioned model: its latest version), else None: never a guess."""
    if len(candidates) > 1:
        candidates = [c for c in candidates if c.get("version") is not None
                      and str(c.get("version")) == str(c.get("latest_version"))]
    return candidates[0] if len(candidates) == 1 else None


def _manifest_relation(manifest: Mapping[str, Any], relation: Relation) -> Mapping[str, Any] | None:
    """The manifest source or node a policy's relation names."""
    wanted = tuple(arg.lower() for arg in relation.args)
    if relation.kind == "source":
        return _one([s for s in (manifest.get("sources") or {}).values()
                     if (str(s.get("source_name", "")).lower(), str(s.get("name", "")).lower()) == wanted])
    return _one([n for n in (manifest.get("nodes") or {}).values()
                 if n.get("resource_type") in DBT_RELATIONS and str(n.get("name", "")).lower() == wanted[-1]
                 and (len(wanted) == 1 or str(n.get("package_name", "")).lower() == wanted[0])])


def _audience_node(manifest: Mapping[str, Any], model: ModelPlan) -> Mapping[str, Any] | None:
    """The manifest node of a generated audience model."""
    return _one([n for n in (manifest.get("nodes") or {}).values()
                 if n.get("resource_type") == "model" and str(n.get("name", "")).lower() == model.name.lower()
                 and str(n.get("original_file_path", "")).startswith(f"{MODELS_DIR}/")])


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
    physical: Name | None = None     # (database, schema, identifier) from the manifest, when known


@dataclass
class PolicyCatalog:
    """Relations by every name a query may use for them (lower-cased)."""

    policies: Policies
    by_name: dict[tuple[str, ...], RelationEntry]
    audience_models: dict[str, dict[str, RelationEntry]]   # purpose -> table -> audience model entry
    derived: dict[str, DerivedRelation] = field(default_factory=dict)   # lower-cased model name -> relation
    # physical names from the manifest -> relation; None when two relations claim the name
    physical: dict[Name, RelationEntry | DerivedRelation | None] = field(default_factory=dict)
    _ambiguous_derived: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def build(cls, plan: ProjectPlan, manifest: Mapping[str, Any] | None = None) -> PolicyCatalog:
        """The catalog of a plan; with a dbt manifest, also by the relations' physical names."""
        by_name: dict[tuple[str, ...], RelationEntry] = {}
        bare: dict[str, list[RelationEntry]] = {}
        located: list[tuple[RelationEntry, Mapping[str, Any] | None]] = []
        for table in plan.policies.table_list():
            relation = table.relation
            entry = RelationEntry(f"veil__{table.name}", table.name, table)
            by_name[tuple(part.lower() for part in relation.identifier.split("."))] = entry
            bare.setdefault(relation.name.lower(), []).append(entry)
            bare.setdefault(table.name.lower(), []).append(entry)
            if manifest:
                located.append((entry, _manifest_relation(manifest, relation)))
        audience_models: dict[str, dict[str, RelationEntry]] = {}
        for model in plan.models:
            entry = RelationEntry(f"veil__{model.name}", model.table.name, model.table, model.audience, model)
            by_name[(model.name.lower(),)] = entry
            audience_models.setdefault(model.purpose, {})[model.table.name] = entry
            if manifest:
                located.append((entry, _audience_node(manifest, model)))
        for name, entries in bare.items():
            unique = {e.key for e in entries}
            if len(unique) == 1 and (name,) not in by_name:
                by_name[(name,)] = entries[0]
        catalog = cls(plan.policies, by_name, audience_models)
        catalog._add_physical((entry, physical_name(node)) for entry, node in located if node is not None)
        return catalog

    def _add_physical(self, relations: Iterable[tuple[RelationEntry | DerivedRelation, Name | None]]) -> None:
        """Register physical names; a name claimed twice, or another relation's logical name, is nobody's."""
        for relation, physical in relations:
            for name in _names(physical) if physical else []:
                if name in self.physical:
                    if self.physical[name] is not relation:
                        self.physical[name] = None
                else:
                    logical = self.by_name.get(name)
                    self.physical[name] = relation if logical is None or logical is relation else None

    def lookup(self, parts: Sequence[str]) -> RelationEntry | DerivedRelation | None:
        """The entry for a possibly qualified name (`catalog.schema.table`, `schema.table`, `table`)."""
        lowered = tuple(p.lower() for p in parts if p)
        for size in (3, 2):
            if len(lowered) >= size and lowered[-size:] in self.physical:
                return self.physical[lowered[-size:]]    # None: two relations have this name
        if lowered and lowered[-1] in self.derived and lowered[-1:] not in self.by_name:
            derived = self.derived[lowered[-1]]
            if len(lowered) == 1 or derived.physical is None:
                return derived      # qualified otherwise: a relation of that name in another schema
        for size in (2, 1):
            if len(lowered) >= size and lowered[-size:] in self.by_name:
                entry = self.by_name[lowered[-size:]]
                if size == 1 and len(lowered) > 1 and entry.model is None and entry.loaded.relation.kind == "source":
                    continue   # `other.users` is not `raw.users`
                return entry
        return None

    def is_policy_model(self, name: str) -> bool:
        """Whether dbt model `name` is itself a policy table (`ref('name')`) or an audience model."""
        entry = self.by_name.get((name.lower(),))
        if entry is None:
            return False
        if entry.model is not None:
            return entry.model.name.lower() == name.lower()
        relation = entry.loaded.relation
        return relation.kind == "ref" and relation.name.lower() == name.lower()

    def add_derived(self, name: str, columns: dict[str, list[BaseColumn]], physical: Name | None = None) -> bool:
        """Register a model whose outputs carry policy columns, by its physical names and its alias `name`.

        A model whose physical name a policy table or audience model has is that
        relation, not a derived one. Its alias alone is used only when no policy
        relation and no other derived model has it. Whether it was registered.
        """
        if not columns or (physical is not None and physical in self.physical):
            return False
        lowered = name.lower()
        suffix = "__".join(physical) if physical else lowered
        relation = DerivedRelation(f"veil__derived__{re.sub(r'[^a-z0-9_]', '_', suffix)}", name, columns, physical)
        self._add_physical([(relation, physical)])
        if (lowered,) in self.by_name or lowered in self._ambiguous_derived:
            return physical is not None
        if lowered in self.derived:          # two models of that alias (in two schemas): physical names only
            del self.derived[lowered]
            self._ambiguous_derived.add(lowered)
            return physical is not None
        self.derived[lowered] = relation
        return True

    def entries(self) -> list[RelationEntry]:
        return sorted({e.key: e for e in self.by_name.values()}.values(), key=lambda e: e.key)

    def decision(self, entry: RelationEntry, column: str, purpose: str) -> ColumnDecision | None:
        """The policy's decision for `column` of the entry's table under `purpose`."""
        policy = entry.column(column)
        return decide(policy, purpose) if policy is not None else None

    def allowed_raw(self, entry: RelationEntry, column: str, purpose: str) -> bool:
        decision = self.decision(entry, column, purpose)
        return decision is not None and decision.action is Action.RAW
