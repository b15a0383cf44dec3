"""Render generated models to plain SQL without dbt.

dbt is the real renderer; this one exists so benchmarks, tests and `veil
summary` can run a generated model's exact SQL inside DuckDB in milliseconds,
on hand-made tables. It resolves `source('s', 't')` to `s.t`, `ref('m')` to
`m`, ignores `config()`, takes dbt vars from a mapping, and dispatches veil's
macros the way `adapter.dispatch` does (`<dialect>__`, then `default__`).

>>> macros = {"m.sql": "{% macro veil_x(c) %}{{ return(adapter.dispatch('veil_x')(c)) }}{% endmacro %}"
...                    "{% macro default__veil_x(c) -%}upper({{ c }}){%- endmacro %}"}
>>> render_offline("select {{ veil_x('a') }} from {{ source('raw', 't') }}", macros)
'select upper(a) from raw.t'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import jinja2

from veil.policy.relation import Relation

TEST_BLOCK = "{% test "


class OfflineCompilerError(Exception):
    """What `exceptions.raise_compiler_error` raises outside dbt."""


def _raise_compiler_error(message: str) -> None:
    raise OfflineCompilerError(message)


class _Adapter:
    """Just enough of dbt's `adapter` for `adapter.dispatch(name)`."""

    def __init__(self, env: jinja2.Environment, dialect: str):
        self.env, self.dialect = env, dialect

    def dispatch(self, name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        for prefix in (self.dialect, "default"):
            macro = self.env.globals.get(f"{prefix}__{name}")
            if macro is not None:
                return macro
        raise OfflineCompilerError(f"no macro {name!r} for {self.dialect!r} or default")


def _default_name(relation: Relation) -> str:
    return relation.identifier


def render_offline(model_sql: str, macro_files: Mapping[str, str], dialect: str = "duckdb",
                   variables: Mapping[str, Any] | None = None,
                   relation_name: Callable[[Relation], str] = _default_name) -> str:
    """The model's SQL with every Jinja call resolved.

    `variables` are dbt vars; `relation_name` turns a source or ref into the
    SQL name of its table (default `source.table` and the model name).
    """
    variables = dict(variables or {})
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(
        source=lambda *args: relation_name(Relation("source", args)),
        ref=lambda *args: relation_name(Relation("ref", args)),
        config=lambda **_: "",
        execute=True,   # as dbt when it runs a model (at parse time dbt sets it false)
        var=lambda name, default=None: variables.get(name, default),
        exceptions=SimpleNamespace(raise_compiler_error=_raise_compiler_error),
        modules=SimpleNamespace(re=re),
        adapter=_Adapter(env, dialect),
        **{"return": lambda value: value},
    )
    for text in macro_files.values():
        if TEST_BLOCK in text:   # dbt's {% test %} blocks are not plain Jinja
            continue
        module = env.from_string(text).module
        env.globals.update({name: getattr(module, name) for name in dir(module) if not name.startswith("_")})
    return env.from_string(model_sql).render().strip()
