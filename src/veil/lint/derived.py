"""Teach the catalog what a dbt project's own models carry.

A staging view `stg_users` that selects `email` from the raw users table is
not a policy table, but a mart reading `stg_users.email` uses `users.email`.
With a manifest (`target/manifest.json`, read by `veil.project.Project`),
each model's compiled SQL is traced, upstream models first, and registered as
a derived relation under its physical name (`"db"."main"."stg_users"`, the
model's `alias` and custom schema included) and its alias, so uses are
followed across models, not only inside one query. A model that is itself a
policy table (`ref('...')`) or an audience model is that, not a derived one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot.errors import SqlglotError

from veil.compile.naming import MODELS_DIR
from veil.lint.catalog import PolicyCatalog, physical_name
from veil.lint.lineage import output_columns


def _in_dependency_order(nodes: dict[str, dict]) -> list[dict]:
    """Models, each after the models it depends on."""
    ordered: list[dict] = []
    done: set[str] = set()

    def visit(node_id: str, path: frozenset[str]) -> None:
        if node_id in done or node_id in path or node_id not in nodes:
            return
        for parent in nodes[node_id].get("depends_on", {}).get("nodes", []):
            visit(parent, path | {node_id})
        done.add(node_id)
        ordered.append(nodes[node_id])

    for node_id in sorted(nodes):
        visit(node_id, frozenset())
    return ordered


def add_dbt_models(catalog: PolicyCatalog, manifest: Mapping[str, Any] | None, dialect: str) -> int:
    """Register every compiled model of the manifest that carries policy columns; how many."""
    models = {key: node for key, node in ((manifest or {}).get("nodes") or {}).items()
              if node.get("resource_type") == "model"
              and not node.get("original_file_path", "").startswith(f"{MODELS_DIR}/")}
    added = 0
    for node in _in_dependency_order(models):
        compiled = node.get("compiled_code")
        if not compiled or catalog.is_policy_model(node["name"]):
            continue
        try:
            statement = sqlglot.parse_one(compiled, read=dialect)
            columns = output_columns(statement, catalog, dialect)
        except (SqlglotError, ValueError, RecursionError):
            continue
        if catalog.add_derived(node.get("alias") or node["name"], columns, physical_name(node)):
            added += 1
    return added
