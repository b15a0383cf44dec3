"""Every place a data subject's data lives, and how erasure handles each.

Listed from the policies and, when dbt has run, its manifest:

- `vault`: the token vault (entries for the subject's tokenized values);
- `policy table`: each policy table with a `subject` (its `erasure:` method:
  delete, or anonymize for rows that must be kept);
- `consent log`: the consent relation (the erasure registry itself is kept:
  it is the source of truth, also for re-applying erasures after a restore);
- `dbt table` / `dbt seed`: every table dbt built (staging tables, marts,
  audience models, seeds) with a subject column;
- `seed file`: the CSV of such a seed, rewritten without the subject's rows;
- `warehouse table`: any other table of the warehouse with a subject column
  (made by another tool, or dbt without a manifest at hand);
- `published file`: every DuckDB file `veil publish` wrote;
- `view` / `aggregate`: derived relations that store no subject row (a view,
  or a table without a subject column, rebuilt from the erased sources by
  the next `dbt build`): listed so the report shows they were considered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from veil.compile.naming import CONSENT_MODEL
from veil.compile.plan import Action, ProjectPlan
from veil.policy.loaded import LoadedTable
from veil.relations import MANIFEST, PhysicalRelations

STORED = {"vault", "policy table", "consent log", "dbt table", "dbt seed", "seed file", "published file",
          "warehouse table"}


@dataclass(frozen=True)
class System:
    """One place to erase from."""

    name: str                      # what the report calls it: "raw.users", "vault", a file path...
    kind: str                      # see the module docstring
    method: str                    # delete, anonymize, forget tokens, rewrite file, derived
    target: str                    # SQL name in the warehouse, or a file path
    subject_column: str | None = None
    hold: str | None = None        # legal hold reason: the system is not touched
    table: LoadedTable | None = field(default=None, compare=False, repr=False)

    @property
    def stores_data(self) -> bool:
        return self.kind in STORED


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND "
                       "table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()
    return [r[0] for r in rows]


def _manifest_nodes(project_dir: Path) -> list[dict]:
    path = project_dir / MANIFEST
    if not path.is_file():
        return []
    nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes", {}).values()
    return sorted((n for n in nodes if n.get("resource_type") in {"model", "seed", "snapshot"}),
                  key=lambda n: n.get("unique_id", ""))


def tokenize_rules(plan: ProjectPlan) -> list[tuple[LoadedTable, str, dict]]:
    """(table, column, options) of every `tokenize` masking rule, deduplicated."""
    rules = {}
    for model in plan.models:
        for decision in model.decisions:
            if decision.action is Action.MASK and decision.strategy == "tokenize":
                key = (model.table.name, decision.name, decision.options)
                rules[key] = (model.table, decision.name, dict(decision.options))
    return [rules[k] for k in sorted(rules)]


def discover_systems(plan: ProjectPlan, con: duckdb.DuckDBPyConnection, relations: PhysicalRelations,
                     project_dir: Path, published: list[Path], vault_file: Path) -> list[System]:
    """Every system, in the order erasure must visit them (the vault first: it needs the raw values)."""
    policies = plan.policies
    spec = policies.project.erasure
    holds = spec.legal_holds.tables if spec else {}
    systems: list[System] = []
    if tokenize_rules(plan) and vault_file.is_file():
        systems.append(System(str(vault_file), "vault", "forget tokens", str(vault_file)))
    covered: set[str] = set()
    for table in policies.table_list():
        subject = table.policy.subject
        if not subject:
            continue
        target = relations.sql_name(table.relation)
        covered.add(target.lower())
        systems.append(System(target.replace('"', ""), "policy table", table.policy.erasure, target, subject,
                              holds.get(table.name), table))
    consent = policies.project.consent
    if consent is not None:
        target = relations.sql_name(consent.relation)
        covered.add(target.lower())
        systems.append(System(target.replace('"', ""), "consent log", "delete", target, consent.subject))
    if spec is not None:
        covered.add(relations.sql_name(spec.relation).lower())   # the registry is kept
    subject_names = [n for n in [spec.subject if spec else None,
                                 *(t.policy.subject for t in policies.table_list())] if n]
    systems += _dbt_systems(con, project_dir, covered, subject_names)
    systems += _other_tables(con, covered, subject_names)
    for path in published:
        systems.append(System(str(path), "published file", "delete, rewrite file", str(path)))
    return systems


def _other_tables(con: duckdb.DuckDBPyConnection, covered: set[str], subject_names: list[str]) -> list[System]:
    """Tables of the warehouse nobody declared (not a policy, not in the manifest) holding a subject column."""
    systems = []
    tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                         "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database() "
                         "ORDER BY 1, 2").fetchall()
    for schema, table in tables:
        target = f'"{schema}"."{table}"'
        if target.lower() in covered:
            continue
        columns = {c.lower(): c for c in _columns(con, schema, table)}
        subject = next((columns[n.lower()] for n in subject_names if n.lower() in columns), None)
        if subject is not None:
            covered.add(target.lower())
            systems.append(System(f"{schema}.{table}", "warehouse table", "delete", target, subject))
    return systems


def _dbt_systems(con: duckdb.DuckDBPyConnection, project_dir: Path, covered: set[str],
                 subject_names: list[str]) -> list[System]:
    systems = []
    for node in _manifest_nodes(project_dir):
        schema, table = node["schema"], node.get("alias") or node["name"]
        target = f'"{schema}"."{table}"'
        if target.lower() in covered:
            continue
        covered.add(target.lower())
        materialized = (node.get("config") or {}).get("materialized", "table")
        name = f"{schema}.{table}"
        if materialized in {"view", "ephemeral"}:
            systems.append(System(name, "view", "derived (stores nothing)", target))
            continue
        columns = {c.lower(): c for c in _columns(con, schema, table)}
        candidates = ["subject"] + subject_names if node["name"] == CONSENT_MODEL else subject_names
        subject = next((columns[c.lower()] for c in candidates if c.lower() in columns), None)
        kind = "dbt seed" if node["resource_type"] == "seed" else "dbt table"
        if subject is None:
            systems.append(System(name, "aggregate", "derived (no subject column; rebuilt by dbt build)", target))
            continue
        systems.append(System(name, kind, "delete", target, subject))
        if kind == "dbt seed" and node.get("original_file_path"):
            seed_file = project_dir / node["original_file_path"]
            if seed_file.is_file():
                systems.append(System(node["original_file_path"], "seed file", "rewrite file", str(seed_file),
                                      subject))
    return systems
