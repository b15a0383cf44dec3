"""A dbt project's raw tables, as its manifest lists them: sources, seeds, and the tests that relate them.

Sources are located by their `schema` and `identifier` (which may differ from
the source and table names); seeds by their schema and alias, and read from
their CSV file when the warehouse does not hold them yet. `unique` tests
mark keys; `relationships` tests mark foreign keys.

>>> manifest = {"metadata": {"project_name": "p"}, "sources": {"source.p.shop.clients": {
...     "package_name": "p", "source_name": "shop", "name": "clients", "schema": "ingest",
...     "identifier": "client_accounts", "columns": {"id": {}}}}, "nodes": {}}
>>> project = discover(manifest, "/tmp/p")
>>> [(t.key, t.relation, t.policy_name) for t in project.tables]
[('ingest.client_accounts', "source('shop', 'clients')", 'clients')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.classify.sample import TableRef
from veil.policy.relation import parse_relation

_CALL = re.compile(r"\b(?:source|ref)\s*\([^()]*\)")


@dataclass(frozen=True)
class Relationship:
    """A dbt `relationships` test: child.column values are among parent.key values."""

    child: str
    column: str
    parent: str
    key: str


@dataclass
class ProjectTables:
    """What a manifest says about the project's raw tables."""

    tables: list[TableRef]
    unique: set[tuple[str, str]] = field(default_factory=set)        # (relation, column lower)
    relationships: list[Relationship] = field(default_factory=list)


def _relation(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    match = _CALL.search(text)
    if match is None:
        return None
    try:
        return str(parse_relation(match.group(0)))
    except ValueError:
        return None


def discover(manifest: dict[str, Any], project_dir: str | Path) -> ProjectTables:
    """The sources and seeds of the manifest's own project (packages' are left out), with their tests."""
    root = Path(project_dir)
    project_name = (manifest.get("metadata") or {}).get("project_name")

    def own(entry: dict[str, Any]) -> bool:
        return project_name is None or entry.get("package_name") in (None, project_name)

    tables: list[TableRef] = []
    for source in sorted(manifest.get("sources", {}).values(), key=lambda s: (s["source_name"], s["name"])):
        if not own(source):
            continue
        relation = f"source('{source['source_name']}', '{source['name']}')"
        columns = tuple((source.get("columns") or {}).keys())
        types = {name: c["data_type"] for name, c in (source.get("columns") or {}).items() if c.get("data_type")}
        tables.append(TableRef(source["schema"], source.get("identifier") or source["name"], relation,
                               source["name"], "source", None, types, columns))
    for node in sorted(manifest.get("nodes", {}).values(), key=lambda n: n.get("name", "")):
        if node.get("resource_type") != "seed" or not own(node):
            continue
        config = node.get("config") or {}
        csv = root / node["original_file_path"] if node.get("original_file_path") else None
        column_types = {str(k): str(v) for k, v in (config.get("column_types") or {}).items()}
        tables.append(TableRef(node["schema"], node.get("alias") or node["name"], f"ref('{node['name']}')",
                               node["name"], "seed", csv, column_types, tuple((node.get("columns") or {}).keys()),
                               str(config.get("delimiter") or ",")))
    found = ProjectTables(tables)
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "test":
            continue
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        child = _relation(kwargs.get("model"))
        column = kwargs.get("column_name") or node.get("column_name")
        if child is None or not isinstance(column, str):
            continue
        if meta.get("name") == "unique":
            found.unique.add((child, column.lower()))
        elif meta.get("name") == "relationships":
            parent = _relation(kwargs.get("to"))
            if parent is not None and isinstance(kwargs.get("field"), str):
                found.relationships.append(Relationship(child, column, parent, kwargs["field"]))
    return found
