"""Every place a data subject's data lives, found through the identity graph, in erasure order.

- `vault`: token-vault entries bound to the subject (and, for entries made
  before binding existed, those of the subject's raw values still stored);
  `database vault`: the same in a vault the warehouse keeps itself
  (PostgreSQL's `veil_private.vault_tokens`), made physical with the tables;
- files veil wrote: `access export`, `snapshot` versions, `published file`,
  `temp file` (the copy a killed `veil publish` or rewrite left behind);
- `seed file`: a seed's CSV, rewritten without the subject's rows (so the
  next `dbt seed` does not bring them back);
- warehouse tables, each erased through its identity columns (never a column
  name): `policy table`, `consent log`, `dbt seed`, `dbt table`,
  `source table`;
- listed, storing nothing: `view`, `aggregate`, `no subject data`,
  `untracked`, `registry`;
- `unresolved`: a stored table whose identity veil cannot prove, or a policy
  it cannot follow to a stored table: requests stay open while one exists.

Files and the vault come first (they need the warehouse as it is to find
keys), then warehouse tables ordered so that a table whose keys are found
through another table (`payments` through `orders`) is erased before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from veil.compile.plan import Action, ProjectPlan
from veil.identity.graph import IdentityGraph, TableIdentity
from veil.policy.loaded import LoadedTable

STORED = {"vault", "database vault", "policy table", "consent log", "dbt table", "dbt seed", "seed file", "published file",
          "source table", "access export", "snapshot", "temp file"}
BLOCKING = {"unresolved"}
FILE_KINDS = {"vault", "access export", "snapshot", "published file", "temp file", "seed file"}


@dataclass(frozen=True)
class System:
    """One place to erase from."""

    name: str                      # what the report calls it: "raw.users", "vault", a file path...
    kind: str                      # see the module docstring
    method: str                    # delete, anonymize, forget tokens, rewrite file, derived...
    target: str                    # the table's key, or a file path
    identity: TableIdentity | None = field(default=None, compare=False, repr=False)
    hold: str | None = None        # legal hold reason: the system is not touched
    table: LoadedTable | None = field(default=None, compare=False, repr=False)

    @property
    def stores_data(self) -> bool:
        return self.kind in STORED

    @property
    def blocks(self) -> bool:
        return self.kind in BLOCKING


def tokenize_rules(plan: ProjectPlan) -> list[tuple[LoadedTable, str, dict]]:
    """(table, column, options) of every `tokenize` masking rule, deduplicated."""
    rules = {}
    for model in plan.models:
        for decision in model.decisions:
            if decision.action is Action.MASK and decision.strategy == "tokenize":
                key = (model.table.name, decision.name, decision.options)
                rules[key] = (model.table, decision.name, dict(decision.options))
    return [rules[k] for k in sorted(rules)]


def _table_kind(graph: IdentityGraph, table: TableIdentity, consent_key: str | None) -> str:
    if table.table.key == consent_key:
        return "consent log"
    if table.policy is not None:
        return "policy table"
    return {"seed": "dbt seed", "model": "dbt table", "snapshot": "dbt table", "source": "source table"}.get(
        table.origin, "source table")


def _method(graph: IdentityGraph, table: TableIdentity) -> str:
    """A policy's `erasure:` method; a base table under a view policy inherits it."""
    if table.policy is not None:
        return table.policy.policy.erasure
    return "anonymize" if any(v.policy.policy.erasure == "anonymize" for v in graph.views_above(table)) else "delete"


def held_tables(plan: ProjectPlan, graph: IdentityGraph) -> dict[str, str]:
    """Table key -> legal hold reason: a held policy's table, or the stored tables behind its view."""
    spec = plan.policies.project.erasure
    held: dict[str, str] = {}
    for name, reason in (spec.legal_holds.tables if spec else {}).items():
        where = graph.policy_tables.get(name)
        holder = graph.tables.get(where.key) if where else None
        for table in graph.stored_bases(holder) if holder is not None else []:
            held.setdefault(table.table.key, f"{reason} (policy {name})")
    return held


def warehouse_order(graph: IdentityGraph, tables: list[TableIdentity]) -> list[TableIdentity]:
    """Tables whose keys another table maps (`payments` via `orders`) before that table."""
    keys = {t.table.key for t in tables}
    before: dict[str, set[str]] = {t.table.key: set() for t in tables}   # key -> tables that must come first
    for table in tables:
        for _, domain in table.identities:
            if domain.is_subject:
                continue
            for definer in graph.definers(domain) & keys:
                if definer != table.table.key:
                    before[definer].add(table.table.key)
    ordered: list[TableIdentity] = []
    done: set[str] = set()
    by_key = {t.table.key: t for t in tables}
    while len(done) < len(tables):
        ready = sorted(k for k in before if k not in done and before[k] <= done)
        if not ready:   # a cycle of keys: each statement still resolves before it changes anything
            ready = sorted(k for k in before if k not in done)[:1]
        for key in ready:
            done.add(key)
            ordered.append(by_key[key])
    return ordered


def discover_systems(plan: ProjectPlan, graph: IdentityGraph, *, vault_file: Path | None,
                     files: list[System], project_dir: Path, consent_key: str | None,
                     database_vault: str | None = None) -> list[System]:
    """Every system, in the order erasure visits them (`database_vault`: the warehouse's own vault, by name)."""
    holds = held_tables(plan, graph)
    systems: list[System] = []
    if database_vault is not None:
        systems.append(System(database_vault, "database vault", "forget tokens", database_vault))
    if vault_file is not None and vault_file.is_file():
        systems.append(System(str(vault_file), "vault", "forget tokens", str(vault_file)))
    for system in files:
        systems.append(system)
        if system.kind == "published file":
            systems += _published_problems(graph, Path(system.target))
    identified = [t for t in graph.tables.values() if t.status == "identified" and t.stored]
    for table in sorted(identified, key=lambda t: t.table.key):
        seed_file = (table.node or {}).get("original_file_path") if table.origin == "seed" else None
        if seed_file and (project_dir / seed_file).is_file():
            from veil.erasure.actions import seed_csv_problem

            system = System(seed_file, "seed file", "rewrite file", str(project_dir / seed_file), table)
            problem = seed_csv_problem(system)
            systems.append(system if problem is None else System(seed_file, "unresolved", problem, system.target))
    for table in warehouse_order(graph, identified):
        hold = holds.get(table.table.key)
        systems.append(System(table.name, _table_kind(graph, table, consent_key), _method(graph, table),
                              table.table.key, table, hold, table.policy))
    for table in sorted(graph.tables.values(), key=lambda t: t.table.key):
        if table.status in {"identified", "not built"}:
            continue
        note = table.reason
        systems.append(System(table.name, table.status, note, table.table.key, table, table=table.policy))
    for what, why in graph.problems:
        systems.append(System(what, "unresolved", why, what))
    return systems


def _published_problems(graph: IdentityGraph, path: Path) -> list[System]:
    """A published table whose model veil cannot erase through makes the file unresolved."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_catalog = current_database()").fetchall()]
    problems = []
    for name in sorted(names):
        models = graph.by_name(name)
        if any(m.status == "identified" for m in models) or (models and all(
                m.status in {"aggregate", "no subject data"} for m in models)):
            continue
        why = (models[0].reason if models else "no table of the warehouse has its name, so veil cannot know "
               "which column holds whose id")
        problems.append(System(f"{path}: {name}", "unresolved", why, str(path)))
    return problems


def published_files(trail) -> list[Path]:
    """Files `veil publish` wrote that still exist."""
    return sorted({trail.resolve(r.system) for r in trail.records(kind="publish")
                   if r.system and trail.resolve(r.system).is_file()})


def file_systems(trail, project, warehouse) -> list[System]:
    """Files veil wrote that may hold a subject's data: temp leftovers, access exports, snapshots, publishes.

    Temp leftovers are looked for beside the warehouse's own files (a DuckDB
    file's folder; a server has none here) and in the project's state folder.
    """
    from veil.erasure import files

    folders = [*warehouse.local_dirs, project.state_dir]
    systems = [System(str(p), "temp file", "delete file (a leftover copy of anyone's data)", str(p))
               for p in files.stale_temp_files(trail, folders)]
    systems += [System(str(p), "access export", "delete file", str(p)) for p in files.access_exports(trail)]
    systems += [System(str(p), "snapshot", "delete rows, rewrite files; --check lists retraining",
                       str(p)) for p in files.snapshot_versions(trail)]
    systems += [System(str(p), "published file", "delete, rewrite file", str(p)) for p in published_files(trail)]
    return systems
