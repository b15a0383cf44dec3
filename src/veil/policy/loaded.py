"""What `load_policies` returns: validated models plus where they came from.

>>> from veil.policy.models import ProjectPolicy
>>> p = Policies(project=ProjectPolicy(version=1), project_file="policies/veil.yml", tables={})
>>> p.audience_names()
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.policy.models import ProjectPolicy, TablePolicy
from veil.policy.relation import Relation, parse_relation
from veil.policy.yaml_lines import LineDict, line_of


@dataclass(frozen=True)
class LoadedTable:
    """A table policy with its file, its located document and its relation."""

    policy: TablePolicy
    path: str
    doc: Any = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.policy.table

    @property
    def relation(self) -> Relation:
        return parse_relation(self.policy.relation or f"ref('{self.policy.table}')")

    def line(self, loc: Sequence[Any]) -> int | None:
        return line_of(self.doc, loc)


@dataclass(frozen=True)
class Policies:
    """Every policy of a project, validated together."""

    project: ProjectPolicy
    project_file: str
    tables: dict[str, LoadedTable]
    project_doc: Any = field(default_factory=LineDict, repr=False, compare=False)

    def audience_names(self) -> list[str]:
        return sorted(self.project.audiences)

    def table_list(self) -> list[LoadedTable]:
        return [self.tables[name] for name in sorted(self.tables)]

    def retention_days(self, table: LoadedTable) -> int | None:
        """The table's retention in days: `retention_days`, or its tier's."""
        policy = table.policy
        if policy.retention_days is not None:
            return policy.retention_days
        return self.project.retention_tiers.get(policy.retention) if policy.retention else None
