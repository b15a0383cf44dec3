"""sqlglot helpers for SQL that embeds dbt Jinja calls.

Generated models are sqlglot trees rendered per dialect; the places where dbt
must resolve something (a `source()`, a veil macro) are `exp.Var` leaves whose
text is the Jinja call, printed verbatim.

>>> macro_call("veil_mask_hash", column_sql("src", "device_id")).sql()
"{{ veil_mask_hash('src.device_id') }}"
>>> conjunction([jinja("{{ a }}"), jinja("{{ b }}")]).sql()
'{{ a }} AND {{ b }}'
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp


def jinja(text: str) -> exp.Var:
    """A leaf printed as-is: a Jinja expression inside generated SQL."""
    return exp.Var(this=text)


def _jinja_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def macro_call(name: str, *args: str) -> exp.Var:
    """`{{ name('arg1', 'arg2') }}`: a dbt macro call with string arguments."""
    return jinja(f"{{{{ {name}({', '.join(_jinja_string(a) for a in args)}) }}}}")


def column(table: str | None, name: str) -> exp.Column:
    """A column reference, quoted only where the name needs it."""
    return exp.Column(this=exp.to_identifier(name), table=exp.to_identifier(table) if table else None)


def column_sql(table: str | None, name: str, dialect: str = "duckdb") -> str:
    """The SQL text of a column reference, for a macro argument."""
    return column(table, name).sql(dialect=dialect)


def relation_table(relation_jinja: str, alias: str) -> exp.Table:
    """`{{ source(...) }} AS alias` as a FROM/JOIN item."""
    return exp.Table(this=jinja(relation_jinja), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def conjunction(predicates: Sequence[exp.Expression]) -> exp.Expression | None:
    """AND the predicates together (accepts Jinja leaves, which `exp.and_` refuses)."""
    result: exp.Expression | None = None
    for predicate in predicates:
        result = predicate if result is None else exp.And(this=result, expression=predicate)
    return result


def count_where(condition: exp.Expression, alias: str) -> exp.Expression:
    """`SUM(CASE WHEN condition THEN 1 ELSE 0 END) AS alias`: rows meeting a condition, in one scan.

    >>> count_where(jinja("{{ c }}"), "n").sql()
    'SUM(CASE WHEN {{ c }} THEN 1 ELSE 0 END) AS n'
    """
    case = exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=exp.Literal.number(0))
    return exp.alias_(exp.func("SUM", case), exp.to_identifier(alias))
