"""Trace every column a query uses back to the policy table it comes from.

`sqlglot.lineage` follows only the projection, so this walks the scopes
itself. A *use* is a reference that reaches the query's result:

- any reference in a clause that shapes the rows (JOIN ON, WHERE, GROUP BY,
  HAVING, QUALIFY, ORDER BY), in any scope, subqueries included;
- a projection of the outermost query, of each UNION branch (by position),
  or of a subquery used as a value or predicate (IN, EXISTS, scalar);
- a projection of a CTE or derived table when an outer use reaches it
  (so an intermediate column nobody reads is not a use), or when the rows
  are matched on it (SELECT DISTINCT, UNION, INTERSECT, EXCEPT).

Columns resolve through CTEs, derived tables, aliases and stars (expanded
from the policy schema by sqlglot's qualify); a CTE that shadows a table name
is the CTE. A reference wrapped in `veil_mask_<strategy>(...)` anywhere on
its way to the result carries that strategy.

>>> from veil.compile.plan import plan_project
>>> from veil.policy.load import load_policies
>>> import sqlglot
>>> catalog = PolicyCatalog.build(plan_project(load_policies(".")))
>>> query = analyze(sqlglot.parse_one(
...     "with u as (select * from raw.users) select veil_mask_hash(email) as e from u where ssn is null",
...     read="duckdb"), catalog, "duckdb")
>>> sorted((u.column, u.clause, u.masked_by) for u in query.uses)
[('email', 'select', 'hash'), ('ssn', 'where', None)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.scope import Scope, ScopeType, traverse_scope
from sqlglot.schema import MappingSchema

from veil.lint.catalog import BaseColumn, DerivedRelation, PolicyCatalog, RelationEntry
from veil.lint.expand import (
    ORIGINAL_OFFSET,
    clause_key,
    expand_statement,
    has_star_like,
)
from veil.lint.written import Written

MASK_PREFIX = "veil_mask_"
CLAUSES = {"where": "where", "joins": "join", "group": "group by", "having": "having",
           "qualify": "qualify", "order": "order by", "windows": "window"}


@dataclass(frozen=True)
class ColumnUse:
    """A policy column that reaches the result, where and how."""

    entry: RelationEntry
    column: str            # lower-cased
    offset: int | None     # character offset of the use in the file, when known
    clause: str            # select, where, join, group by, having, qualify, order by, window
    masked_by: str | None  # the veil masking strategy applied on the way, if any


@dataclass(frozen=True)
class TableReference:
    """A physical relation the query reads."""

    entry: RelationEntry
    offset: int | None
    name: str              # as written


@dataclass
class AnalyzedQuery:
    """One statement: its uses of policy columns and the policy relations it reads."""

    uses: list[ColumnUse] = field(default_factory=list)
    tables: list[TableReference] = field(default_factory=list)
    qualified: bool = True    # False when sqlglot could not qualify it (best effort)


def _parts_offset(node: exp.Expression) -> int | None:
    """The smallest start among the node and its name parts (`db`.`table`, `t`.`column`)."""
    best = node.meta.get("start") if node._meta else None
    args = node.args
    for key in ("this", "table", "db", "catalog"):
        part = args.get(key)
        if isinstance(part, exp.Expression) and part._meta:
            start = part._meta.get("start")
            if start is not None and (best is None or start < best):
                best = start
    return best


def remember_offsets(written: Written) -> None:
    """Pin each column, table and star to where it was written, before qualify rewrites it.

    A SELECT with a star remembers the star, so the columns qualify expands it
    into report the star's position.
    """
    for node in written.nodes(exp.Column, exp.Table, exp.Star):
        offset = _parts_offset(node)
        if offset is None:
            continue
        node.meta[ORIGINAL_OFFSET] = offset
        select = node.parent if isinstance(node, exp.Star) or isinstance(node.this, exp.Star) else None
        if isinstance(select, exp.Select):
            select.meta.setdefault(ORIGINAL_OFFSET, offset)


def node_offset(node: exp.Expression | None) -> int | None:
    """Where a node starts in the file: for `raw.users` or `u.email`, the first part.

    Nodes sqlglot made up (an expanded star) borrow their nearest ancestor's position.
    """
    while node is not None:
        if ORIGINAL_OFFSET in node.meta:
            return node.meta[ORIGINAL_OFFSET]
        offset = _parts_offset(node)
        if offset is not None:
            return offset
        node = node.parent
    return None


def _mask_of(node: exp.Expression, stop: exp.Expression) -> str | None:
    """The strategy of the `veil_mask_*` call that wraps `node` itself (casts allowed), below `stop`.

    A mask clears a use only when it masks the bare column: in
    `veil_mask_domain_only(CASE WHEN email = ... END)` or
    `veil_mask_year_only(make_date(1000 + dayofyear(birth_date), 1, 1))` the
    column's value leaks through the expression around it.
    """
    child, current = node, node.parent
    while isinstance(current, (exp.Cast, exp.TryCast, exp.Paren)) and current is not stop:
        child, current = current, current.parent
    if isinstance(current, exp.Anonymous) and current is not stop:
        name = str(current.this).lower()
        arguments = current.expressions
        if name.startswith(MASK_PREFIX) and arguments and arguments[0] is child:
            return name[len(MASK_PREFIX):]
    return None


Known = RelationEntry | DerivedRelation


def _rename_policy_tables(scopes: list[Scope], catalog: PolicyCatalog,
                          tables: list[TableReference]) -> dict[str, Known]:
    """Give each physical policy relation its canonical key, keeping what it was called."""
    by_key: dict[str, Known] = {}
    for scope in scopes:
        for table in scope.tables:
            if not isinstance(scope.sources.get(table.alias_or_name), exp.Table):
                continue   # a CTE or derived table of that name
            parts = [p for p in (table.catalog, table.db, table.name) if p]
            entry = catalog.lookup(parts)
            if entry is None:
                continue
            if isinstance(entry, RelationEntry):
                tables.append(TableReference(entry, node_offset(table), ".".join(parts)))
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            key = entry.key.lower()
            table.set("this", exp.to_identifier(key))
            table.set("db", None)
            table.set("catalog", None)
            by_key[key] = entry
            if table.args["alias"].columns:
                _spell_column_aliases(table, _columns_of(entry))
    return by_key


def _spell_column_aliases(table: exp.Table, columns: list[str]) -> None:
    """`raw.users AS u(a, b)` renames the first columns by position: make it the derived table
    `(SELECT user_id AS a, name AS b, <the rest> FROM raw.users) AS u`, which the tracer follows."""
    alias = table.args["alias"]
    renamed = [identifier.name for identifier in alias.columns]
    projections = [exp.alias_(exp.column(column), renamed[i]) if i < len(renamed) else exp.column(column)
                   for i, column in enumerate(columns)]
    inner = exp.Table(this=table.this.copy())
    inner.meta.update(table.meta)
    select = exp.select(*projections).from_(inner)
    table.replace(exp.Subquery(this=select, alias=exp.TableAlias(this=alias.this.copy())))


class _Tracer:
    """Resolve columns scope by scope, memoising each (scope, column, mask) demand."""

    def __init__(self, by_key: dict[str, Known]):
        self.by_key = by_key
        self.qualified = True
        self.owned: dict[int, list[tuple[exp.Expression, exp.Expression, str]]] = {}
        self.uses: list[ColumnUse] = []
        self.aliases: dict[int, dict[str, exp.Alias]] = {}
        self.seen: set[tuple[int, str, str | None, int | None, str]] = set()

    def index(self, statement: exp.Expression) -> None:
        """Each column's SELECT, the projection or clause it sits in: one upward walk per column."""
        for column in statement.find_all(exp.Column, exp.TableColumn):
            child, clause = column, None
            while child.parent is not None and not isinstance(child.parent, (exp.Select, exp.SetOperation)):
                if clause is None and isinstance(child.parent, exp.Window) and child.arg_key in {"partition_by", "order"}:
                    clause = "window"
                child = child.parent
            owner = child.parent
            if owner is None or (isinstance(column.this, exp.Star) and column is child):
                continue   # a projection `t.*` qualify could not expand: `demand_through_star`
            if clause is None:
                clause = "select" if child.arg_key == "expressions" else CLAUSES.get(child.arg_key, child.arg_key or "select")
            self.owned.setdefault(id(owner), []).append((column, child, clause))

    def clause_columns(self, select: exp.Expression) -> list[tuple[exp.Expression, str]]:
        """Columns of `select` itself outside its projections, with their clause."""
        return [(column, clause) for column, _, clause in self.owned.get(id(select), []) if clause != "select"]

    def projection_columns(self, projection: exp.Expression, select: exp.Expression) -> list[exp.Expression]:
        """Columns of one projection of `select` (not of a subquery inside it)."""
        return [column for column, top, _ in self.owned.get(id(select), []) if top is projection]

    def reference(self, scope: Scope, column: exp.Column, mask: str | None, origin: int | None, clause: str) -> None:
        """A column node of `scope`, reaching the result via `clause` at `origin`.

        `t.*` inside an expression (`struct_pack(t.*)`) and a bare table alias
        (`to_json(t)`, `count(distinct t)`: DuckDB reads the whole row) use
        every column of `t`; a correlated name (`u.email` inside a LATERAL or
        EXISTS subquery) is looked up in the enclosing scopes.
        """
        if isinstance(column, exp.TableColumn) or isinstance(column.this, exp.Star):
            name = column.name if isinstance(column, exp.TableColumn) else column.table
            source = _visible_source(scope, name) if name else None
            if source is not None:
                self.use_whole_row(source, mask, origin, clause, field_of(column))
            return
        source = _visible_source(scope, column.table) if column.table else None
        if source is None and not column.table:
            source = self.unique_source(scope, column.name)
            if self.refers_to_alias(scope, column):
                # an output alias (`ORDER BY e`, DuckDB's `select 1 as a, a + 1`): ORDER BY prefers the
                # alias, every other clause the source's column when it has one
                sourced = source is not None and self.has_column(source, column.name)
                if clause_key(column, scope.expression) == "order" or not sourced:
                    self.demand(scope, column.name, mask, origin, clause)
                    return
            if source is None or not self.has_column(source, column.name):
                row = self.whole_row_source(scope, column.name)
                if row is not None:
                    self.use_whole_row(row, mask, origin, clause, field_of(column))
                    return
        if isinstance(source, exp.Table):
            self.use_table(source, column.name, mask, origin, clause)
        elif isinstance(source, Scope):
            self.demand(source, column.name, mask, origin, clause)

    def whole_row_source(self, scope: Scope, name: str) -> exp.Table | Scope | None:
        """The source a bare name stands for as a whole row: an alias no source has a column of that name."""
        current: Scope | None = scope
        while current is not None:
            if any(self.has_column(source, name) for source in current.sources.values()):
                return None
            if name in current.sources:
                return current.sources[name]
            current = current.parent
        return None

    def use_whole_row(self, source: exp.Table | Scope, mask: str | None, origin: int | None, clause: str,
                      field: str | None = None) -> None:
        """Every column of a row, or only `field` when the row is read as `(t).field`."""
        if isinstance(source, exp.Table):
            entry = self.by_key.get(source.name)
            names = _columns_of(entry) if entry is not None else []
        elif isinstance(source, Scope):
            names = _output_names(source)
        else:
            return
        if field is not None and field in names:
            names = [field]
        for name in names:
            if isinstance(source, exp.Table):
                self.use_table(source, name, mask, origin, clause)
            else:
                self.demand(source, name, mask, origin, clause)

    def demand(self, scope: Scope, name: str, mask: str | None, origin: int | None, clause: str) -> None:
        """An output column of `scope` is used: trace what it is made of."""
        key = (id(scope), name.lower(), mask, origin, clause)
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(scope.expression, exp.SetOperation):
            if _by_name(scope):
                for branch in scope.set_operation_scopes:
                    if name.lower() in _output_names(branch):
                        self.demand(branch, name, mask, origin, clause)
                return
            names = _output_names(scope)
            if name.lower() in names:
                self.demand_position(scope, names.index(name.lower()), mask, origin, clause)
            return
        found = False
        for index, projection in enumerate(scope.expression.selects):
            if projection.alias_or_name.lower() == name.lower():
                self.demand_position(scope, index, mask, origin, clause)   # every one of a repeated name
                found = True
        if not found:
            self.demand_through_star(scope, name, mask, origin, clause)

    def use_table(self, table: exp.Table, name: str, mask: str | None, origin: int | None, clause: str) -> None:
        """A column of a physical relation: a policy column, or the ones a derived model carries."""
        entry = self.by_key.get(table.name)
        if isinstance(entry, RelationEntry):
            self.uses.append(ColumnUse(entry, name.lower(), origin, clause, mask))
        elif isinstance(entry, DerivedRelation):
            for base in entry.columns.get(name.lower(), []):
                self.uses.append(ColumnUse(base.entry, base.column, origin, clause, mask or base.masked_by))

    def refers_to_alias(self, scope: Scope, column: exp.Column) -> bool:
        """`_refers_to_alias`, with each SELECT's aliases gathered once (the tree no longer changes)."""
        expression = scope.expression
        if not isinstance(expression, exp.Select):
            return False
        aliases = self.aliases.get(id(expression))
        if aliases is None:
            aliases = self.aliases[id(expression)] = {}
            for projection in expression.selects:
                if isinstance(projection, exp.Alias):
                    aliases.setdefault(projection.alias.lower(), projection)
        projection = aliases.get(column.name.lower())
        return projection is not None and column.find_ancestor(exp.Alias) is not projection

    def has_column(self, source: exp.Table | Scope, name: str) -> bool:
        if isinstance(source, exp.Table):
            entry = self.by_key.get(source.name)
            return entry is not None and name.lower() in _column_facts(entry)[2]
        return isinstance(source, Scope) and name.lower() in _output_names(source)

    def unique_source(self, scope: Scope, name: str) -> exp.Table | Scope | None:
        """The source of an unqualified column: the only source, or the only one known to have it.

        sqlglot's qualify does this when it knows every table's schema; when a
        query also reads tables without a policy it cannot, and this fallback
        uses what the policies know.
        """
        sources = [source for _, source in scope.selected_sources.values()]   # not every visible CTE
        if len(sources) == 1:
            return sources[0]
        having = [source for source in sources if self.has_column(source, name)]
        return having[0] if len(having) == 1 else None

    def demand_through_star(self, scope: Scope, name: str, mask: str | None, origin: int | None,
                            clause: str) -> None:
        """A name a star (not expanded by qualify) may provide."""
        for projection in scope.expression.selects:
            if isinstance(projection, exp.Star):
                source = self.unique_source(scope, name)
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                source = scope.sources.get(projection.table)
            else:
                continue
            if source is None or not self.has_column(source, name):
                continue
            star_origin = origin if origin is not None else node_offset(projection)
            if isinstance(source, exp.Table):
                self.use_table(source, name, mask, star_origin, clause)
            else:
                self.demand(source, name, mask, star_origin, clause)
            return

    def demand_position(self, scope: Scope, index: int, mask: str | None, origin: int | None, clause: str) -> None:
        if isinstance(scope.expression, exp.SetOperation):
            if _by_name(scope):
                names = _output_names(scope)
                if index < len(names):
                    self.demand(scope, names[index], mask, origin, clause)
                return
            for branch in scope.set_operation_scopes:
                self.demand_position(branch, index, mask, origin, clause)
            return
        selects = scope.expression.selects
        if index >= len(selects):
            return
        projection = selects[index]
        for column in self.projection_columns(projection, scope.expression):
            here = mask or _mask_of(column, scope.expression)
            self.reference(scope, column, here, origin if origin is not None else node_offset(column), clause)


def field_of(row: exp.Expression) -> str | None:
    """`(u).email`: the one field read of a whole-row reference, if that is all that is read."""
    parent = row.parent
    if isinstance(parent, exp.Paren):
        row, parent = parent, parent.parent
    if isinstance(parent, exp.Dot) and parent.this is row and isinstance(parent.expression, exp.Identifier):
        return parent.expression.name.lower()
    return None


def _visible_source(scope: Scope, name: str) -> exp.Table | Scope | None:
    """The source `name` qualifies in `scope`, or in the scopes around it (a correlated reference)."""
    current: Scope | None = scope
    while current is not None:
        if name in current.sources:
            return current.sources[name]
        current = current.parent
    return None


def _refers_to_alias(scope: Scope, column: exp.Column) -> bool:
    """An unqualified name outside a projection that names one of its aliases (ORDER BY e)."""
    if not isinstance(scope.expression, exp.Select):
        return False
    for projection in scope.expression.selects:
        if isinstance(projection, exp.Alias) and projection.alias.lower() == column.name.lower():
            return column.find_ancestor(exp.Alias) is not projection
    return False


def _by_name(scope: Scope) -> bool:
    """`UNION [ALL] BY NAME`: branches are matched by column name, not position."""
    return bool(scope.expression.args.get("by_name"))


def _output_names(scope: Scope) -> list[str]:
    if isinstance(scope.expression, exp.SetOperation):
        branches = scope.set_operation_scopes
        if not branches:
            return []
        if _by_name(scope):
            return list(dict.fromkeys(name for branch in branches for name in _output_names(branch)))
        return _output_names(branches[0])
    return [s.alias_or_name.lower() for s in scope.expression.selects]


def _qualify(statement: exp.Expression, schema: MappingSchema, dialect: str) -> bool:
    """Qualify columns and expand stars from the policy schemas; False if sqlglot gave up."""
    try:
        # only the column step of sqlglot's qualify (stars expanded, alias references left to
        # `_refers_to_alias`): all the tracer needs, at a third of the cost
        qualify_columns(statement, schema=schema, dialect=dialect, expand_alias_refs=False,
                        expand_stars=True, allow_partial_qualification=True)
        return True
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
        return False


_SCHEMAS: dict[tuple[int, int, str], MappingSchema] = {}


def _catalog_schema(catalog: PolicyCatalog, dialect: str) -> MappingSchema:
    """Every relation the catalog knows, under its key, as sqlglot's schema: built once per catalog."""
    key = (id(catalog), len(catalog.derived), dialect)
    if key not in _SCHEMAS:
        entries: list[Known] = [*catalog.entries(), *catalog.derived.values()]
        tables = {entry.key.lower(): {column: "TEXT" for column in _columns_of(entry)} for entry in entries}
        _SCHEMAS.clear()   # one catalog per process in practice; never hold on to an old one
        _SCHEMAS[key] = MappingSchema(tables, dialect=dialect)
    return _SCHEMAS[key]


UNCORRELATED = {ScopeType.ROOT, ScopeType.CTE, ScopeType.DERIVED_TABLE}


def _needs_qualify(scopes: list[Scope], tracer: _Tracer) -> bool:
    """Whether sqlglot's qualify could resolve a column differently from the tracer's own lookup.

    It cannot when no scope has a star, a USING / NATURAL join or `GROUP BY 1`, and every
    column names its source, or sits in a scope with one source known to have
    it (so it is not a correlated reference to an outer scope): then qualify,
    the costliest step, is skipped.
    """
    for scope in scopes:
        expression = scope.expression
        if not isinstance(expression, exp.Select):
            continue
        if any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
               for p in expression.expressions):
            return True
        group = expression.args.get("group")
        if group is not None and any(isinstance(g, exp.Literal) for g in group.expressions):
            return True   # `GROUP BY 1, 2`: qualify spells out the projections
        for join in expression.args.get("joins") or []:
            if join.args.get("using") or join.args.get("method") or join.args.get("kind") == "NATURAL":
                return True
        selected = [source for _, source in scope.selected_sources.values()]
        only = selected[0] if len(selected) == 1 else None
        # one source, in a scope that cannot see an outer one (not a subquery or LATERAL): every
        # unqualified column is that source's, whatever sqlglot knows of it
        alone = only is not None and scope.scope_type in UNCORRELATED and not isinstance(
            scope.expression.parent, exp.Lateral)
        for column in scope.columns:
            if column.args.get("db") is not None:
                return True   # `t.struct.field`
            if column.table:
                if _visible_source(scope, column.table) is None:
                    return True
            elif not _refers_to_alias(scope, column) and not alone and not (
                    only is not None and tracer.has_column(only, column.name)):
                return True
    return False


def _compares_rows(expression: exp.Expression) -> bool:
    """Rows are matched on every output column: SELECT DISTINCT, UNION, INTERSECT, EXCEPT.

    Those columns decide which rows survive, like a join key, so they are used
    even when nothing outside reads them (`count(*)` over a DISTINCT of names).
    """
    if isinstance(expression, exp.Select):
        return expression.args.get("distinct") is not None
    return isinstance(expression, (exp.Intersect, exp.Except)) or (
        isinstance(expression, exp.Union) and bool(expression.args.get("distinct")))


_COLUMNS: dict[int, tuple[Known, list[str], frozenset[str]]] = {}


def _columns_of(entry: Known) -> list[str]:
    """The entry's columns, computed once per entry (a policy's list is rebuilt on every access)."""
    return _column_facts(entry)[1]


def _column_facts(entry: Known) -> tuple[Known, list[str], frozenset[str]]:
    found = _COLUMNS.get(id(entry))
    if found is None or found[0] is not entry:
        columns = list(entry.columns)
        found = _COLUMNS[id(entry)] = (entry, columns, frozenset(columns))
    return found


def output_columns(statement: exp.Expression, catalog: PolicyCatalog, dialect: str) -> dict[str, list[BaseColumn]]:
    """What each output column of a statement carries: the policy columns it is made of.

    Used to register a dbt model as a derived relation (see `PolicyCatalog.add_derived`).
    """
    by_key, scopes, tracer = _prepare(statement, catalog, dialect, [])
    outputs: dict[str, list[BaseColumn]] = {}
    if not by_key or not scopes:
        return outputs
    for name in _output_names(scopes[-1]):
        tracer.uses, tracer.seen = [], set()
        tracer.demand(scopes[-1], name, None, None, "select")
        carried = {(u.entry.key, u.column, u.masked_by): BaseColumn(u.entry, u.column, u.masked_by) for u in tracer.uses}
        if carried:
            outputs[name] = list(carried.values())
    return outputs


def _prepare(statement: exp.Expression, catalog: PolicyCatalog, dialect: str,
             tables: list[TableReference], written: Written | None = None
             ) -> tuple[dict[str, Known], list[Scope], _Tracer]:
    written = written if written is not None and written.tree is statement else Written(statement, dialect)
    remember_offsets(written)
    _drop_macro_parameters(statement)
    scopes = written.scopes
    by_key = _rename_policy_tables(scopes, catalog, tables)
    renames = any(alias.columns for alias in written.nodes(exp.TableAlias))   # `u(a, b)`, `with a(x, y)`
    if renames:
        scopes = traverse_scope(statement)   # a renamed policy table became a derived table
    tracer = _Tracer(by_key)
    if not by_key:
        return by_key, [], tracer
    if has_star_like(written):
        expand_statement(scopes, lambda table: _columns_of(by_key[table.name]) if table.name in by_key
                         and not table.db else None)
    if renames or _needs_qualify(scopes, tracer):
        tracer.qualified = _qualify(statement, _catalog_schema(catalog, dialect), dialect)
    tracer.index(statement)
    return by_key, scopes, tracer


def _drop_macro_parameters(statement: exp.Expression) -> None:
    """`CREATE MACRO m(email) AS ...`: a parameter in the body is a value, not a column."""
    if not isinstance(statement, exp.Create) or not isinstance(statement.this, exp.UserDefinedFunction):
        return
    parameters = {p.name.lower() for p in statement.this.expressions if isinstance(p, (exp.Identifier, exp.Column))}
    body = statement.expression
    for column in list(body.find_all(exp.Column)) if body is not None else []:
        if not column.table and column.name.lower() in parameters:
            column.replace(exp.Placeholder(this=column.name))


def _implicit_uses(expression: exp.Select, tracer: _Tracer) -> list[tuple[exp.Expression, str]]:
    """Columns `GROUP BY ALL` (each non-aggregate projection) and `ORDER BY ALL` (each projection) use."""
    found: list[tuple[exp.Expression, str]] = []
    group = expression.args.get("group")
    if group is not None and group.args.get("all"):
        for projection in expression.selects:
            if projection.find(exp.AggFunc) is None:
                found += [(column, "group by") for column in tracer.projection_columns(projection, expression)]
    order = expression.args.get("order")
    if order is not None and any(isinstance(o.this, exp.Var) and o.this.name.upper() == "ALL"
                                 for o in order.expressions):
        for projection in expression.selects:
            found += [(column, "order by") for column in tracer.projection_columns(projection, expression)]
    return found


def _in_exists(scope: Scope) -> bool:
    """`EXISTS (SELECT * ...)` tests for rows: its projection is never read."""
    parent = scope.expression.parent
    return isinstance(parent, exp.Exists) or (isinstance(parent, exp.Subquery) and isinstance(parent.parent, exp.Exists))


def analyze(statement: exp.Expression, catalog: PolicyCatalog, dialect: str,
            written: Written | None = None) -> AnalyzedQuery:
    """Uses and relations of one parsed statement (the statement is changed in place).

    `written` is the statement's index (`Written`) when the caller already made one.
    """
    query = AnalyzedQuery()
    by_key, scopes, tracer = _prepare(statement, catalog, dialect, query.tables, written)
    query.qualified = tracer.qualified
    if not by_key:
        return query
    for scope in scopes:
        expression = scope.expression
        if isinstance(expression, exp.Select):
            for column, clause in tracer.clause_columns(expression) + _implicit_uses(expression, tracer):
                tracer.reference(scope, column, _mask_of(column, expression), node_offset(column), clause)
        if scope is scopes[-1] or (scope.scope_type is ScopeType.SUBQUERY and not _in_exists(scope)):
            for name in _output_names(scope):
                tracer.demand(scope, name, None, None, "select")
        elif _compares_rows(expression):
            for index, _ in enumerate(_output_names(scope)):
                tracer.demand_position(scope, index, None, None, "distinct or set comparison")
    query.uses = tracer.uses
    return query
