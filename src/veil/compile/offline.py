"""Render generated models to plain SQL without dbt.

dbt is the real renderer; this one exists so benchmarks and tests can run a
generated model's exact SQL inside DuckDB in milliseconds, on hand-made tables.
It resolves `source('s', 't')` to `s.t`, `ref('m')` to `m`, ignores `config()`,
and calls each veil macro's `<dialect>__` body directly (what
`adapter.dispatch` picks), falling back to `default__`.

>>> macros = {"m.sql": "{% macro default__veil_x(c) -%}upper({{ c }}){%- endmacro %}"}
>>> render_offline("select {{ veil_x('a') }} from {{ source('raw', 't') }}", macros)
'select upper(a) from raw.t'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jinja2

TEST_BLOCK = "{% test "


def _source(schema: str, table: str) -> str:
    return f"{schema}.{table}"


def _ref(*args: str) -> str:
    return args[-1]


def _macros(env: jinja2.Environment, macro_files: Mapping[str, str], dialect: str) -> dict[str, Callable[..., Any]]:
    found: dict[str, Any] = {}
    for text in macro_files.values():
        if TEST_BLOCK in text:   # dbt's {% test %} blocks are not plain Jinja
            continue
        module = env.from_string(text).module
        found.update({name: getattr(module, name) for name in dir(module) if not name.startswith("_")})
    resolved: dict[str, Callable[..., Any]] = {}
    for name in found:
        for prefix in (f"{dialect}__", "default__"):
            if name.startswith(prefix):
                base = name[len(prefix):]
                if base not in resolved or prefix != "default__":
                    resolved[base] = found[name]
    return {name: (lambda m: lambda *a: str(m(*a)).strip())(macro) for name, macro in resolved.items()}


def render_offline(model_sql: str, macro_files: Mapping[str, str], dialect: str = "duckdb") -> str:
    """The model's SQL with every Jinja call resolved."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(source=_source, ref=_ref, config=lambda **_: "")
    env.globals.update(_macros(env, macro_files, dialect))
    return env.from_string(model_sql).render().strip()
