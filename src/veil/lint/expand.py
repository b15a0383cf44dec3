"""DuckDB's stars in other clothes, spelled out as the columns they stand for.

sqlglot's qualify expands `*`, `t.*` and `* EXCLUDE/REPLACE`; DuckDB has more
ways to say "these columns", and each hides a use from a tracer that reads
column nodes:

- `COLUMNS(*)`, `COLUMNS(t.*)`, `COLUMNS('regex')`, `COLUMNS(['a', 'b'])`,
  `COLUMNS(lambda c: c LIKE '%mail%')`, anywhere in a projection
  (`max(COLUMNS(*))` is one `max` per column);
- `* LIKE 'p'`, `* ILIKE 'p'`, `* GLOB 'p'`, `* SIMILAR TO 'p'`, also on `t.*`;
- positional `#n`: the n-th input column in a projection, the n-th
  projection elsewhere (`ORDER BY #2`).

Before qualify runs, `expand_statement` replaces each such projection with one
copy per column it matches, as DuckDB does, naming each after its column. A
pattern veil cannot evaluate (a lambda beyond comparisons of the name, an
invalid regex) matches every column: it fails closed.

>>> import sqlglot
>>> from sqlglot.optimizer.scope import traverse_scope
>>> tree = sqlglot.parse_one("select max(columns('^e')), * like 'n%' from u", read="duckdb")
>>> expand_statement(traverse_scope(tree), lambda table: ["user_id", "email", "name"])
True
>>> tree.sql("duckdb")
'SELECT MAX(u.email) AS email, u.name AS name FROM u'
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from veil.lint.written import Written

ColumnsOf = Callable[[exp.Table], list[str] | None]   # a table's columns, None when unknown
PATTERNS = (exp.Like, exp.ILike, exp.Glob, exp.SimilarTo)
ORIGINAL_OFFSET = "veil_offset"


def has_star_like(written: Written) -> bool:
    """Whether the statement holds anything `expand_statement` rewrites (a cheap test first)."""
    for node in written.nodes(exp.Columns, exp.PositionalColumn, exp.Star, *PATTERNS):
        if isinstance(node, exp.Star):
            if node.args.get("ilike") or node.args.get("like"):
                return True
        elif not isinstance(node, PATTERNS) or _star_of(node) is not None:
            return True
    return False


def expand_statement(scopes: list[Scope], columns_of: ColumnsOf) -> bool:
    """Spell out every star-like projection of a statement's scopes (innermost first); whether anything changed."""
    changed = False
    outputs: dict[int, list[str] | None] = {}
    for scope in scopes:
        if isinstance(scope.expression, exp.Select):
            changed |= _expand_select(scope, columns_of, outputs)
        outputs[id(scope)] = _output_names(scope, columns_of, outputs)
    return changed


def _output_names(scope: Scope, columns_of: ColumnsOf, outputs: dict[int, list[str] | None]) -> list[str] | None:
    """A scope's output column names, stars included; None when a star reads an unknown table."""
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        left = scope.set_operation_scopes[0] if scope.set_operation_scopes else None
        return outputs.get(id(left)) if left is not None else None
    if not isinstance(expression, exp.Select):
        return None
    names: list[str] = []
    for projection in expression.selects:
        star = _star_of(projection) if not isinstance(projection, exp.Alias) else None
        if star is None:
            names.append(projection.alias_or_name.lower())
            continue
        columns = _star_columns(scope, star, columns_of, outputs)
        if columns is None:
            return None
        names += [name for _, name in columns]
    return names


def _star_of(node: exp.Expression) -> exp.Expression | None:
    """`*` or `t.*` when the node is one, or a pattern over one (`* LIKE 'e%'`)."""
    if isinstance(node, PATTERNS):
        node = node.this
    if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
        return node
    return None


def _source_columns(source: exp.Expression | Scope, columns_of: ColumnsOf,
                    outputs: dict[int, list[str] | None]) -> list[str] | None:
    if isinstance(source, Scope):
        return outputs.get(id(source))
    if isinstance(source, exp.Table):
        return columns_of(source)
    return None


def _star_columns(scope: Scope, star: exp.Expression, columns_of: ColumnsOf,
                  outputs: dict[int, list[str] | None]) -> list[tuple[str, str]] | None:
    """(source alias, column) for each column a star covers, EXCLUDE applied; None if unknown."""
    if isinstance(star, exp.Column):
        sources = {star.table: scope.sources.get(star.table)} if star.table in scope.sources else {}
        star_node = star.this
    else:
        sources, star_node = dict(scope.sources), star
    excluded = {c.name.lower() for c in star_node.args.get("except_") or star_node.args.get("except") or []}
    found: list[tuple[str, str]] = []
    unknown = not sources
    for alias, source in sources.items():
        columns = _source_columns(source, columns_of, outputs)
        if columns is None:
            if isinstance(source, exp.Table) and not isinstance(star, exp.Column):
                unknown = True
                continue   # a table with no policy carries no policy column
            return None
        found += [(alias, name) for name in columns if name.lower() not in excluded]
    return None if unknown and not found else found


def _like_regex(pattern: str, case_insensitive: bool) -> re.Pattern:
    translated = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(translated, re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


def _name_matches(kind: type, pattern: str, name: str) -> bool:
    """Whether a column name matches a pattern of a LIKE-family operator (invalid ones match: fail closed)."""
    try:
        if kind is exp.Like:
            return _like_regex(pattern, False).fullmatch(name) is not None
        if kind is exp.ILike:
            return _like_regex(pattern, True).fullmatch(name) is not None
        if kind is exp.Glob:
            return fnmatch.fnmatchcase(name, pattern)
        if kind is exp.SimilarTo:
            return re.fullmatch(pattern, name) is not None
        return re.search(pattern, name) is not None   # regexp_matches, COLUMNS('regex'): a partial match
    except re.error:
        return True


def _lambda_holds(body: exp.Expression, parameter: str, name: str) -> bool:
    """Evaluate a `COLUMNS(lambda c: ...)` body for one column name; unknown shapes hold (fail closed)."""
    def value(node: exp.Expression) -> object:
        if isinstance(node, (exp.Identifier, exp.Column)) and node.name.lower() == parameter:
            return name
        if isinstance(node, exp.Literal):
            return node.this if node.is_string else node.to_py()
        if isinstance(node, exp.Boolean):
            return node.this
        if isinstance(node, (exp.Lower, exp.Upper)):
            inner = value(node.this)
            return inner if inner is _UNKNOWN else (inner.lower() if isinstance(node, exp.Lower) else inner.upper())
        if isinstance(node, exp.Paren):
            return value(node.this)
        if isinstance(node, exp.Not):
            inner = value(node.this)
            return inner if inner is _UNKNOWN else not inner
        if isinstance(node, (exp.And, exp.Or)):
            left, right = value(node.this), value(node.expression)
            if _UNKNOWN in (left, right):
                return _UNKNOWN
            return (left and right) if isinstance(node, exp.And) else (left or right)
        if isinstance(node, (exp.EQ, exp.NEQ)):
            left, right = value(node.this), value(node.expression)
            if _UNKNOWN in (left, right):
                return _UNKNOWN
            return (left == right) if isinstance(node, exp.EQ) else (left != right)
        if isinstance(node, exp.In):
            left = value(node.this)
            options = [value(option) for option in node.expressions]
            return _UNKNOWN if left is _UNKNOWN or _UNKNOWN in options or not options else left in options
        if isinstance(node, (*PATTERNS, exp.RegexpLike)):
            left, right = value(node.this), value(node.expression)
            if not isinstance(left, str) or not isinstance(right, str):
                return _UNKNOWN
            return _name_matches(type(node), right, left)
        return _UNKNOWN

    result = value(body)
    return True if result is _UNKNOWN else bool(result)


_UNKNOWN = object()


def _columns_matched(scope: Scope, argument: exp.Expression, columns_of: ColumnsOf,
                     outputs: dict[int, list[str] | None]) -> list[tuple[str, str]] | None:
    """(source alias, column) pairs that `COLUMNS(argument)` selects; None when they cannot be known."""
    star = _star_of(argument)
    if star is not None and not isinstance(argument, PATTERNS):
        return _star_columns(scope, star, columns_of, outputs)
    every = _star_columns(scope, exp.Star(), columns_of, outputs)
    if every is None:
        return None
    if isinstance(argument, exp.Literal) and argument.is_string:
        return [(a, n) for a, n in every if _name_matches(exp.RegexpLike, argument.this, n)]
    if isinstance(argument, exp.Array) and all(isinstance(e, exp.Literal) for e in argument.expressions):
        wanted = [e.this.lower() for e in argument.expressions]
        return [(a, n) for a, n in every if n.lower() in wanted]
    if isinstance(argument, exp.Lambda) and len(argument.expressions) == 1:
        parameter = argument.expressions[0].name.lower()
        return [(a, n) for a, n in every if _lambda_holds(argument.this, parameter, n)]
    return every   # an expression veil does not evaluate: every column (fail closed)


def _pattern_matched(scope: Scope, projection: exp.Expression, columns_of: ColumnsOf,
                     outputs: dict[int, list[str] | None]) -> list[tuple[str, str]] | None:
    """Columns of `* LIKE 'p'` (and ILIKE, GLOB, SIMILAR TO, `* ILIKE` as sqlglot parses it)."""
    if isinstance(projection, exp.Star):
        pattern = projection.args.get("ilike") or projection.args.get("like")
        kind = exp.ILike if projection.args.get("ilike") else exp.Like
        star: exp.Expression = projection
    else:
        pattern, kind, star = projection.expression, type(projection), projection.this
    columns = _star_columns(scope, star, columns_of, outputs)
    if columns is None:
        return None
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return columns
    return [(a, n) for a, n in columns if _name_matches(kind, pattern.this, n)]


def _spelled(alias: str, name: str, offset: int | None) -> exp.Column:
    column = exp.column(name, table=alias or None)
    if offset is not None:
        column.meta[ORIGINAL_OFFSET] = offset
        column.this.meta[ORIGINAL_OFFSET] = offset
    return column


def _offset(node: exp.Expression) -> int | None:
    for candidate in node.walk():
        if ORIGINAL_OFFSET in candidate.meta:
            return candidate.meta[ORIGINAL_OFFSET]
        if "start" in candidate.meta:
            return candidate.meta["start"]
    return None


def _expand_projection(scope: Scope, projection: exp.Expression, columns_of: ColumnsOf,
                       outputs: dict[int, list[str] | None]) -> list[exp.Expression] | None:
    """The projections one projection stands for, or None when it is an ordinary one."""
    inner = projection.this if isinstance(projection, exp.Alias) else projection
    if (isinstance(inner, PATTERNS) and _star_of(inner) is not None) or (
            isinstance(inner, exp.Star) and (inner.args.get("ilike") or inner.args.get("like"))):
        matched = _pattern_matched(scope, inner, columns_of, outputs)
        if matched is None:
            return None
        offset = _offset(inner)
        return [exp.alias_(_spelled(a, n, offset), n) for a, n in matched]
    columns_nodes = list(inner.find_all(exp.Columns))
    if columns_nodes:
        matched = _columns_matched(scope, columns_nodes[0].this, columns_of, outputs)
        if matched is None:
            return None
        replacements = _replacements(columns_nodes[0].this)
        offset = _offset(columns_nodes[0])
        expanded = []
        for alias, name in matched:
            replacement = replacements.get(name.lower())
            spelled = replacement.copy() if replacement is not None else _spelled(alias, name, offset)
            if isinstance(inner, exp.Columns):
                expanded.append(exp.alias_(spelled, name))
                continue
            copy = inner.copy()
            for node in list(copy.find_all(exp.Columns)):
                node.replace(spelled.copy())
            expanded.append(exp.alias_(copy, name))
        return expanded
    return None


def _replacements(argument: exp.Expression) -> dict[str, exp.Expression]:
    """`COLUMNS(* REPLACE (expr AS c))`: the expression that stands for `c`."""
    if not isinstance(argument, exp.Star):
        return {}
    return {r.alias.lower(): r.this for r in argument.args.get("replace") or [] if isinstance(r, exp.Alias)}


def _input_columns(scope: Scope, columns_of: ColumnsOf,
                   outputs: dict[int, list[str] | None]) -> list[tuple[str, str]] | None:
    """Every input column in FROM order, for `#n` in a projection (unknown tables make it unknowable)."""
    found: list[tuple[str, str]] = []
    for alias, source in scope.sources.items():
        columns = _source_columns(source, columns_of, outputs)
        if columns is None:
            return None
        found += [(alias, name) for name in columns]
    return found


def _expand_positions(scope: Scope, columns_of: ColumnsOf, outputs: dict[int, list[str] | None]) -> bool:
    """`#n`: an input column in a projection, a projection elsewhere; unresolvable ones become every input."""
    select = scope.expression
    changed = False
    for node in list(select.find_all(exp.PositionalColumn)):
        if node.find_ancestor(exp.Select) is not select:
            continue
        index = int(node.this.to_py()) - 1 if isinstance(node.this, exp.Literal) else -1
        in_projection = clause_key(node, select) == "expressions"
        offset = _offset(node)
        if in_projection:
            inputs = _input_columns(scope, columns_of, outputs) or []
            if 0 <= index < len(inputs):
                node.replace(_spelled(*inputs[index], offset))
            else:
                node.replace(exp.Tuple(expressions=[_spelled(a, n, offset) for a, n in inputs]))
        else:
            projections = select.expressions
            target = projections[index] if 0 <= index < len(projections) else None
            node.replace(target.unalias().copy() if target is not None else exp.null())
        changed = True
    return changed


def clause_key(node: exp.Expression, select: exp.Expression) -> str | None:
    """The argument of `select` that holds the node (expressions, where, order...)."""
    child = node
    while child.parent is not None and child.parent is not select:
        child = child.parent
    return child.arg_key


def _expand_clauses(scope: Scope, columns_of: ColumnsOf, outputs: dict[int, list[str] | None]) -> bool:
    """`WHERE COLUMNS('^(ssn|phone)$') IS NOT NULL` tests each matched column: a use of each one."""
    select = scope.expression
    changed = False
    for node in list(select.find_all(exp.Columns)):
        if node.find_ancestor(exp.Select) is not select or clause_key(node, select) == "expressions":
            continue
        matched = _columns_matched(scope, node.this, columns_of, outputs)
        if matched:
            offset = _offset(node)
            node.replace(exp.Tuple(expressions=[_spelled(a, n, offset) for a, n in matched]))
            changed = True
    return changed


def _expand_select(scope: Scope, columns_of: ColumnsOf, outputs: dict[int, list[str] | None]) -> bool:
    select = scope.expression
    changed = _expand_positions(scope, columns_of, outputs) | _expand_clauses(scope, columns_of, outputs)
    projections: list[exp.Expression] = []
    for projection in select.expressions:
        expanded = _expand_projection(scope, projection, columns_of, outputs)
        if expanded is None:
            projections.append(projection)
        else:
            projections += expanded
            changed = True
    if changed:
        select.set("expressions", projections)
    return changed
