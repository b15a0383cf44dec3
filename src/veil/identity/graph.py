"""The identity graph: for every stored table, which columns identify a data subject, and how.

A column's *domain* says what its values are:

- `subject`: the subject id itself (a policy's `subject:` column, the consent
  log's and registry's subject, a model's `meta.veil.subject`);
- `<table>.<key>`: values of a policy table's key column (what a `via`
  points to: `payments.order_id` holds values of `orders.order_id`), which
  that table maps to subjects through its own subject (multi-hop allowed).

Domains spread along column lineage where values pass through unchanged
(renamed or cast): downstream, a column whose every source has domain D has
D; upstream, every source of a D column has D (a policy over a view reaches
the view's base table this way). A column with two domains is ambiguous.

Each stored table then gets a status:

- `identified`: erased through its identity columns;
- `unresolved`: it holds rows derived from subject data, but no identity
  column could be determined (or its SQL cannot be traced): erasure cannot
  be proven there, so requests stay open;
- `aggregate`: its rows are groups (GROUP BY), no subject row is stored;
  rebuilt from the erased sources by the next `dbt build`;
- `no subject data`: lineage reaches no subject table (or the model says
  `meta.veil.subject: false`);
- `untracked`: neither a policy, a dbt node nor a source: veil cannot see its
  lineage (listed, with a warning when a column shares a subject column's name);
- `view` / `registry`: store nothing / kept as the source of truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from veil.identity.lineage import UntraceableSQL, is_aggregate, trace_columns
from veil.identity.subjects import SubjectKind
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.relation import parse_relation
from veil.warehouse.base import PhysicalTable


@dataclass(frozen=True, order=True)
class Domain:
    """What a column's values are: the subject id, or a policy table's key."""

    table: str = ""
    column: str = ""

    @property
    def is_subject(self) -> bool:
        return not self.table

    def __str__(self) -> str:
        return "subject" if self.is_subject else f"{self.table}.{self.column}"


SUBJECT = Domain()


@dataclass
class TableIdentity:
    """One relation of the warehouse (or the manifest) and how its rows find their subject."""

    table: PhysicalTable
    kind: str                                  # "table" or "view"
    origin: str                                # policy, seed, model, snapshot, source, untracked
    node: dict[str, Any] | None = field(default=None, repr=False)
    policy: LoadedTable | None = field(default=None, repr=False)
    columns: dict[str, str] = field(default_factory=dict)        # lower name -> (actual name, type) below
    types: dict[str, str] = field(default_factory=dict)
    identities: list[tuple[str, Domain]] = field(default_factory=list)
    status: str = ""
    reason: str = ""
    code: str | None = field(default=None, repr=False)     # a model's compiled SQL

    @property
    def stored(self) -> bool:
        return self.kind == "table"

    @property
    def name(self) -> str:
        return str(self.table)


@dataclass
class IdentityGraph:
    kind: SubjectKind
    tables: dict[str, TableIdentity]                    # PhysicalTable.key -> identity
    policy_tables: dict[str, PhysicalTable]             # policy name -> where it lives
    registry: PhysicalTable | None
    problems: list[tuple[str, str]] = field(default_factory=list)   # (what, why): block completion
    edges: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    dialect: str = "duckdb"                             # the warehouse's: how its models' compiled SQL is read

    def domain_table(self, domain: Domain) -> TableIdentity:
        return self.tables[self.policy_tables[domain.table].key]

    def stored_bases(self, table: TableIdentity) -> list[TableIdentity]:
        """The table itself when stored; for a view, the stored tables it reads that identify subjects."""
        if table.stored:
            return [table]
        return [self.tables[k] for k in sorted(self.ancestors(table) - {table.table.key})
                if k in self.tables and self.tables[k].stored and self.tables[k].identities]

    def views_above(self, table: TableIdentity) -> list[TableIdentity]:
        """The policy views whose rows this stored table holds (a policy over a view reaches its base)."""
        views = [self.tables.get(where.key) for where in self.policy_tables.values()]
        return [v for v in views if v is not None and v.kind == "view" and table.table.key in self.ancestors(v)]

    def passed_through(self, table: TableIdentity, columns: set[str]) -> dict[str, set[str]]:
        """Table key -> its columns that `columns` of `table` copy unchanged (following views upstream)."""
        found: dict[str, set[str]] = {}
        todo = [(table.table.key, c.lower()) for c in columns]
        seen: set[tuple[str, str]] = set()
        while todo:
            column = todo.pop()
            if column in seen:
                continue
            seen.add(column)
            for source in self.edges.get(column, []):
                found.setdefault(source[0], set()).add(source[1])
                todo.append(source)
        return found

    def by_name(self, name: str) -> list[TableIdentity]:
        """Stored tables called `name` (any schema): how a published table finds its model."""
        return [t for t in self.tables.values() if t.table.name.lower() == name.lower()]

    def definers(self, domain: Domain) -> set[str]:
        """Keys of the tables whose contents a domain's subject mapping reads (all the way up)."""
        found: set[str] = set()
        while not domain.is_subject:
            holder = self.domain_table(domain)
            found |= self.ancestors(holder)
            via = holder.policy.policy.via if holder.policy is not None else None
            if via is None:
                break
            domain = Domain(self.policy_name(via.relation), via.key.lower())
        return found

    def policy_name(self, relation: str) -> str:
        """The policy table whose relation this is (validated to exist)."""
        return next(name for name, table in self.policy_tables.items()
                    if self.tables[table.key].policy is not None
                    and str(self.tables[table.key].policy.relation) == str(parse_relation(relation)))

    def ancestors(self, start: TableIdentity) -> set[str]:
        """Keys of `start` and every relation it is built from (manifest dependencies, transitively)."""
        found, todo = set(), [start.table.key]
        while todo:
            key = todo.pop()
            if key in found:
                continue
            found.add(key)
            table = self.tables.get(key)
            if table is not None:
                todo += _parents(table, self._nodes)
        return found

    _nodes: dict[str, str] = field(default_factory=dict, repr=False)   # unique_id -> table key


def _node_table(node: dict[str, Any]) -> PhysicalTable:
    return PhysicalTable(node["schema"], node.get("alias") or node.get("identifier") or node["name"])


def _parents(table: TableIdentity, node_keys: dict[str, str]) -> list[str]:
    if table.node is None:
        return []
    return [node_keys[p] for p in table.node.get("depends_on", {}).get("nodes", []) if p in node_keys]


def _meta_subject(node: dict[str, Any] | None) -> tuple[bool, str | None]:
    """(declared, column) from `meta.veil.subject` (column, or false for "no subject data")."""
    if node is None:
        return False, None
    for meta in (node.get("meta") or {}, (node.get("config") or {}).get("meta") or {}):
        veil = meta.get("veil") if isinstance(meta, dict) else None
        if isinstance(veil, dict) and "subject" in veil:
            value = veil["subject"]
            return True, (str(value) if value not in (None, False, "none", "") else None)
    return False, None


def _collect_tables(warehouse, manifest: dict[str, Any] | None, policies: Policies
                    ) -> tuple[dict[str, TableIdentity], dict[str, str]]:
    tables: dict[str, TableIdentity] = {}
    for table, kind in warehouse.tables():
        tables[table.key] = TableIdentity(table, "view" if kind == "VIEW" else "table", "untracked")
    columns = warehouse.execute("SELECT table_schema, table_name, column_name, data_type "
                                "FROM information_schema.columns WHERE table_catalog = current_database() "
                                "ORDER BY table_schema, table_name, ordinal_position")
    for schema, name, column, sql_type in columns:
        table = tables.get(PhysicalTable(schema, name).key)
        if table is not None:
            table.columns[column.lower()] = column
            table.types[column.lower()] = sql_type
    node_keys: dict[str, str] = {}
    entries = [(n, n.get("resource_type")) for n in (manifest or {}).get("nodes", {}).values()
               if n.get("resource_type") in {"model", "seed", "snapshot"}]
    entries += [(s, "source") for s in (manifest or {}).get("sources", {}).values()]
    for node, origin in entries:
        table = _node_table(node)
        node_keys[node["unique_id"]] = table.key
        materialized = (node.get("config") or {}).get("materialized")
        if materialized == "ephemeral":
            continue
        found = tables.get(table.key)
        if found is None:   # declared but not built: nothing stored yet
            found = tables[table.key] = TableIdentity(table, "view" if materialized == "view" else "table", origin)
            found.status, found.reason = "not built", "not in the warehouse"
        found.origin, found.node = origin, node
    for loaded in policies.table_list():
        table = warehouse.locate(loaded.relation)
        found = tables.setdefault(table.key, TableIdentity(table, "table", "policy", status="not built",
                                                           reason="not in the warehouse"))
        found.policy = loaded
        if found.origin in {"untracked", "source"}:
            found.origin = "policy"
    return tables, node_keys


def _schema(tables: dict[str, TableIdentity]) -> dict:
    schema: dict = {}
    for table in tables.values():
        if table.columns:
            schema.setdefault(table.table.schema, {})[table.table.name] = {
                table.columns[c]: table.types[c] for c in table.columns}
    return schema


def _without_catalogs(code: str, dialect: str) -> exp.Expression | str:
    """Compiled SQL names the database dbt built in (`"warehouse"."raw"."users"`); a copy may differ."""
    try:
        statement = parse_one(code, read=dialect)
    except SqlglotError:
        return code
    for table in statement.find_all(exp.Table):
        table.set("catalog", None)
    return statement


def _edges(tables: dict[str, TableIdentity], compiled: Callable[[dict[str, Any]], str | None], dialect: str
           ) -> tuple[dict[tuple[str, str], list[tuple[str, str]]], dict[str, str]]:
    """(table key, column) -> source columns it passes through; and why a model could not be traced."""
    schema = _schema(tables)
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    untraceable: dict[str, str] = {}
    for key, table in sorted(tables.items()):
        if table.origin not in {"model", "snapshot"}:
            continue
        code = table.code = compiled(table.node)
        if not code:
            if table.stored:
                untraceable[key] = "dbt has not compiled it (run `dbt compile` or `dbt build`)"
            continue
        names = [table.columns[c] for c in table.columns] or list((table.node or {}).get("columns", {}))
        try:
            traced = trace_columns(_without_catalogs(code, dialect), names, schema, dialect=dialect)
        except UntraceableSQL as exc:
            untraceable[key] = f"its SQL cannot be traced: {exc}"
            continue
        for column, sources in traced.items():
            if sources:
                edges[(key, column.lower())] = sources
    return edges, untraceable


def _seed_domains(policies: Policies, tables: dict[str, TableIdentity], where: dict[str, PhysicalTable],
                  warehouse) -> dict[tuple[str, str], Domain]:
    known: dict[tuple[str, str], Domain] = {}
    for loaded in policies.table_list():
        key = where[loaded.name].key
        policy = loaded.policy
        if policy.subject_column:
            known[(key, policy.subject_column.lower())] = SUBJECT
        elif policy.via is not None:
            parent = next(t for t in policies.table_list() if str(t.relation) == str(parse_relation(policy.via.relation)))
            domain = Domain(parent.name, policy.via.key.lower())
            known[(key, policy.via.via.lower())] = domain
            known[(where[parent.name].key, policy.via.key.lower())] = domain
    project = policies.project
    for spec in (project.consent, project.erasure):
        if spec is not None:
            known[(warehouse.locate(spec.relation).key, spec.subject.lower())] = SUBJECT
    for key, table in tables.items():
        declared, column = _meta_subject(table.node)
        if declared and column:
            known[(key, column.lower())] = SUBJECT
    return known


def _propagate(known: dict[tuple[str, str], Domain], edges: dict[tuple[str, str], list[tuple[str, str]]]
               ) -> tuple[dict[tuple[str, str], Domain], set[tuple[str, str]]]:
    """Spread domains along pass-through edges to a fixpoint; columns that got two are ambiguous."""
    domains = dict(known)
    ambiguous: set[tuple[str, str]] = set()

    def assign(column: tuple[str, str], domain: Domain) -> bool:
        current = domains.get(column)
        if current is None:
            domains[column] = domain
            return True
        if current != domain and column not in known:
            ambiguous.add(column)
        return False

    changed = True
    while changed:
        changed = False
        for column, sources in edges.items():
            found = {domains.get(s) for s in sources}
            if len(found) == 1 and None not in found:
                changed |= assign(column, found.pop())
            if column in domains:
                for source in sources:
                    changed |= assign(source, domains[column])
    return domains, ambiguous


def _subject_kind(policies: Policies, tables: dict[str, TableIdentity], where: dict[str, PhysicalTable]
                  ) -> SubjectKind:
    """From the policy tables' subject columns as stored (the registry's type may be looser: text ids)."""
    types = []
    for loaded in policies.table_list():
        column = (loaded.policy.subject_column or "").lower()
        table = tables.get(where[loaded.name].key)
        if column and table is not None and column in table.types:
            types.append(table.types[column])
        elif column and loaded.policy.column(column) is not None and loaded.policy.column(column).type:
            types.append(loaded.policy.column(column).type.value)
    return SubjectKind.of_types(types)


def build_identity_graph(policies: Policies, manifest: dict[str, Any] | None, warehouse,
                         compiled: Callable[[dict[str, Any]], str | None] = lambda n: n.get("compiled_code")
                         ) -> IdentityGraph:
    """The identity of every relation of the warehouse and the manifest (`compiled`: a model's SQL)."""
    tables, node_keys = _collect_tables(warehouse, manifest, policies)
    where = {loaded.name: warehouse.locate(loaded.relation) for loaded in policies.table_list()}
    dialect = getattr(warehouse, "dialect", "") or "duckdb"
    edges, untraceable = _edges(tables, compiled, dialect)
    known = _seed_domains(policies, tables, where, warehouse)
    domains, ambiguous = _propagate(known, edges)
    spec = policies.project.erasure
    registry = warehouse.locate(spec.relation) if spec is not None else None
    graph = IdentityGraph(_subject_kind(policies, tables, where), tables, where, registry, edges=edges,
                          dialect=dialect, _nodes=node_keys)
    for key, table in tables.items():
        table.identities = sorted((table.columns.get(c, c), d) for (k, c), d in domains.items()
                                  if k == key and (k, c) not in ambiguous)
        _judge(graph, table, untraceable.get(key), [c for (k, c) in ambiguous if k == key])
    for loaded in policies.table_list():
        holder = tables[where[loaded.name].key]
        if loaded.policy.subject is not None and holder.kind == "view" and not graph.stored_bases(holder):
            graph.problems.append((f"policy {loaded.name} ({loaded.path})",
                                   f"it is over the view {holder.name}, whose subject column veil cannot trace to "
                                   "a stored table; declare the policy on the base table"))
    return graph


def _reads_subject_data(graph: IdentityGraph, table: TableIdentity) -> bool:
    ancestors = graph.ancestors(table) - {table.table.key}
    return any(graph.tables[k].identities or graph.tables[k].policy is not None and
               graph.tables[k].policy.policy.subject is not None for k in ancestors if k in graph.tables)


def _identity_lookalikes(graph: IdentityGraph, table: TableIdentity) -> list[str]:
    """Columns named like a subject column somewhere (`kundeid`, or containing it: `kundeid_verein`):
    a reason to stop and ask, never to delete."""
    names = {c.lower() for t in graph.tables.values() if t.origin != "untracked"
             for c, d in t.identities if d.is_subject}
    return sorted(table.columns[c] for c in table.columns
                  if c in names or any(len(n) >= 4 and n in c for n in names))


def _judge(graph: IdentityGraph, table: TableIdentity, untraceable: str | None, ambiguous: list[str]) -> None:
    if table.status == "not built":
        if table.policy is not None and table.policy.policy.subject is not None:
            graph.problems.append((f"policy {table.policy.name}", f"its relation {table.name} is not in the warehouse"))
        return
    if graph.registry is not None and table.table.key == graph.registry.key:
        table.status, table.reason = "registry", "the erasure registry is kept (source of truth for --reapply)"
    elif table.kind == "view":
        table.status, table.reason = "view", "stores nothing"
    elif ambiguous:
        table.status = "unresolved"
        table.reason = f"column {', '.join(sorted(ambiguous))} holds values of two different keys"
    elif table.identities:
        table.status = "identified"
    elif _meta_subject(table.node) == (True, None):
        table.status, table.reason = "no subject data", "declared by meta.veil.subject: false"
    elif table.policy is not None and table.policy.policy.subject is not None:
        table.status, table.reason = "unresolved", "its policy's subject column is not in the stored table"
    elif table.origin in {"untracked", "seed", "source"} and _identity_lookalikes(graph, table):
        what = "not a policy, dbt node or source" if table.origin == "untracked" else f"a dbt {table.origin} with no policy"
        table.status = "unresolved"
        table.reason = (f"{what}, yet column {', '.join(_identity_lookalikes(graph, table))} is named like a subject "
                        "column: veil cannot know whose values they are; declare it (a policy, or "
                        "meta.veil.subject: <column> or false) or drop it")
    elif table.origin == "untracked":
            table.status, table.reason = "untracked", "not a policy, dbt node or source: veil cannot see its lineage"
    elif not _reads_subject_data(graph, table):
        table.status, table.reason = "no subject data", "lineage reaches no subject table"
    elif untraceable:
        table.status, table.reason = "unresolved", untraceable
    elif is_aggregate(table.code or "", graph.dialect):
        table.status, table.reason = "aggregate", "stores groups, no subject row; rebuilt by the next dbt build"
    else:
        table.status = "unresolved"
        table.reason = ("it is built from subject data but no column carries a subject or key unchanged; "
                        "declare meta.veil.subject on the model")
