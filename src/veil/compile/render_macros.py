"""Render `macros/veil/*.sql`: masking functions, the erasure filter, tests.

Every macro dispatches through `adapter.dispatch(name)` (root project first),
with a `duckdb__` body rendered by sqlglot for DuckDB, a `postgres__` body for
PostgreSQL, a `spark__` body for Spark and a `default__` body
(PostgreSQL-flavoured) for other adapters, so one compiled project builds on
each adapter unchanged. On PostgreSQL the keyed strategies call
`veil.hmac_sha256(...)` (veil.postgres_keys creates it); on Spark
`veil_hmac_sha256(...)`, a session function (veil.spark_functions).

The reversible strategies (fpe, tokenize, encrypt) are keyed functions that
each adapter keeps in its own place: a model wraps their call in
`veil_reversible(strategy, sql)`, which passes it through on DuckDB (Python
functions of the dbt-duckdb plugin), calls the schema-qualified function on
PostgreSQL (`veil.VEIL_MASK_FPE(...)`, veil.postgres_reversible creates it)
and stops the build with a compiler error naming the strategy on any other
adapter, or on an adapter where that strategy does not run.
"""

from __future__ import annotations

from importlib import resources

from sqlglot import exp

from veil.compile import sql
from veil.compile.naming import (
    ERASURE_FILTER_MACRO,
    MACROS_DIR,
    REVERSIBLE_MACRO,
    SQL_HEADER,
    mask_macro,
)
from veil.duckdb_functions import mask_function
from veil.policy.loaded import Policies
from veil.policy.relation import parse_relation
from veil.strategies import STRATEGIES, MaskContext, for_target
from veil.strategies.reversible import CALL_SCHEMA, reversible_call

ARGUMENT = "column"
DIALECT_BODIES = (("duckdb", "duckdb"), ("postgres", "postgres"), ("spark", "spark"), ("default", "postgres"))
NOT_MACROS = {"drop", "null"}   # drop removes the column; null is inlined with its type
# reversible strategies (fpe, tokenize, encrypt) are inlined too: they take options and their column


def dispatching_macro(name: str, arguments: str, bodies: dict[str, str], doc: str) -> str:
    """A macro that dispatches to `<prefix>__<name>` bodies (`arguments`: "a, b")."""
    parts = [
        f"{{# {doc} #}}",
        f"{{% macro {name}({arguments}) -%}}",
        f"  {{{{ return(adapter.dispatch('{name}')({arguments})) }}}}",
        "{%- endmacro %}",
    ]
    for prefix, body in bodies.items():
        parts += [f"{{% macro {prefix}__{name}({arguments}) -%}}", body, "{%- endmacro %}"]
    return "\n".join(parts)


def per_dialect(expression: exp.Expression) -> dict[str, str]:
    """The expression rendered for each dispatch prefix."""
    return {prefix: for_target(expression, dialect).sql(dialect=dialect) for prefix, dialect in DIALECT_BODIES}


def _masking_macro(strategy_name: str) -> str:
    """On DuckDB a call of the registered function (the linter sees its name);
    elsewhere the expression itself."""
    strategy = STRATEGIES[strategy_name]
    argument = sql.jinja(f"{{{{ {ARGUMENT} }}}}")
    bodies = per_dialect(strategy.build(argument.copy(), MaskContext()))
    bodies["duckdb"] = exp.Anonymous(this=mask_function(strategy_name), expressions=[argument.copy()]).sql("duckdb")
    return dispatching_macro(mask_macro(strategy_name), ARGUMENT, bodies,
                              f"{strategy_name}: {strategy.description}")


def _reversible_macro() -> str:
    """`veil_reversible(strategy, sql)`: `sql` (DuckDB's call) as each adapter spells it; else a compiler error."""
    reversible = sorted(name for name, s in STRATEGIES.items() if s.reversible)

    def refusal(target: str) -> str:
        message = (f"' ~ strategy ~ ' is not available on {target}: the reversible strategies run on "
                   "DuckDB (the dbt-duckdb plugin), PostgreSQL (veil keys install) and Spark (fpe and encrypt, "
                   "veil dbt); build this model there or choose another strategy")
        # only when dbt executes the model: at parse time (execute false) the other models must still parse
        return f"{{% if execute %}}{{{{ exceptions.raise_compiler_error('veil: strategy {message}') }}}}{{% endif %}}"

    def body(target: str) -> str:
        runs = [name for name in reversible if STRATEGIES[name].supports(target)]
        call = reversible_call("{{ sql }}", target)
        if runs == reversible:
            return call
        return f"{{% if strategy in {runs!r} %}}{call}{{% else %}}{refusal(target)}{{% endif %}}"

    bodies = {target: body(target) for target in CALL_SCHEMA}
    bodies["default"] = refusal("this adapter")
    return dispatching_macro(REVERSIBLE_MACRO, "strategy, sql", bodies,
                             "The call of a reversible strategy (fpe, tokenize, encrypt), as each adapter spells it.")


def render_masking_macros() -> str:
    """`macros/veil/veil_masking.sql`: one dispatching macro per strategy, and the reversible call."""
    macros = [_masking_macro(name) for name in sorted(STRATEGIES)
              if name not in NOT_MACROS and not STRATEGIES[name].reversible]
    return "\n\n".join([SQL_HEADER, *macros, _reversible_macro()]) + "\n"


def render_erasure_macros(policies: Policies) -> str | None:
    """`macros/veil/veil_erasure.sql`: the anti-join that hides erased subjects."""
    erasure = policies.project.erasure
    if erasure is None:
        return None
    registry = sql.column("veil_erasure", erasure.subject)
    subject = sql.jinja("{{ subject_column }}")
    lookup = exp.select(exp.Literal.number(1)).from_(
        sql.relation_table(parse_relation(erasure.relation).jinja, "veil_erasure")
    ).where(exp.EQ(this=registry, expression=subject))
    predicate = exp.Not(this=exp.Exists(this=lookup))
    bodies = per_dialect(predicate)
    doc = (f"True for rows whose subject is not in the erasure registry {parse_relation(erasure.relation)}. "
           "Usage: where {{ veil_erasure_filter('u.user_id') }}")
    return "\n\n".join([SQL_HEADER, dispatching_macro(ERASURE_FILTER_MACRO, "subject_column", bodies, doc)]) + "\n"


def render_test_macros() -> str:
    """`macros/veil/veil_tests.sql`: the generic privacy tests."""
    body = resources.files("veil.templates").joinpath("veil_tests.sql").read_text(encoding="utf-8")
    return f"{SQL_HEADER}\n{body}"


def render_macros(policies: Policies) -> dict[str, str]:
    """Every generated macro file, by path relative to the project."""
    files = {
        f"{MACROS_DIR}/veil_masking.sql": render_masking_macros(),
        f"{MACROS_DIR}/veil_tests.sql": render_test_macros(),
    }
    erasure = render_erasure_macros(policies)
    if erasure is not None:
        files[f"{MACROS_DIR}/veil_erasure.sql"] = erasure
    return files
