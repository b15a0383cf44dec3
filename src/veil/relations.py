"""Where a policy's relation physically lives in the warehouse.

`source('raw', 'users')` is the table the dbt source names (its `schema` and
`identifier` may differ from the source name), `ref('m')` the table dbt built
for model or seed `m`. The dbt manifest (`target/manifest.json`) knows both;
without one, a source is `<source>.<table>` and a ref is found by name.

>>> PhysicalRelations({}).locate(parse_relation("source('raw', 'users')"))
('raw', 'users')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from veil.policy.relation import Relation, parse_relation

MANIFEST = Path("target") / "manifest.json"


def _index_manifest(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    index: dict[str, tuple[str, str]] = {}
    for source in manifest.get("sources", {}).values():
        key = f"source('{source['source_name']}', '{source['name']}')"
        index[key] = (source["schema"], source.get("identifier") or source["name"])
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") in {"model", "seed", "snapshot"}:
            index[f"ref('{node['name']}')"] = (node["schema"], node.get("alias") or node["name"])
    return index


class PhysicalRelations:
    """Resolve relations to (schema, table), from a manifest index when there is one."""

    def __init__(self, index: dict[str, tuple[str, str]], schemas_by_table: dict[str, str] | None = None):
        self.index = index
        self.schemas_by_table = schemas_by_table or {}

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any] | None, con: Any = None) -> PhysicalRelations:
        """From a dbt manifest (or None); `con` (DuckDB) finds refs by name when it has none."""
        index = _index_manifest(manifest) if manifest else {}
        schemas = {}
        if con is not None:
            rows = con.execute("SELECT table_name, min(table_schema) FROM information_schema.tables "
                               "WHERE table_catalog = current_database() GROUP BY table_name").fetchall()
            schemas = {name.lower(): schema for name, schema in rows}
        return cls(index, schemas)

    @classmethod
    def for_project(cls, project_dir: Path, con: Any = None) -> PhysicalRelations:
        """The project's manifest (read by `Project`, the one reader of it) if any."""
        from veil.project import Project

        return cls.from_manifest(Project.load(project_dir, env={}).manifest, con)

    def locate(self, relation: Relation) -> tuple[str, str]:
        if str(relation) in self.index:
            return self.index[str(relation)]
        if relation.kind == "source":
            return relation.args[0], relation.args[1]
        return self.schemas_by_table.get(relation.name.lower(), "main"), relation.name

    def sql_name(self, relation: Relation | str) -> str:
        """`"schema"."table"`, quoted for DuckDB."""
        if isinstance(relation, str):
            relation = parse_relation(relation)
        schema, table = self.locate(relation)
        return f'"{schema}"."{table}"'
