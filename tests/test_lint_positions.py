"""Findings of a dbt model point at its source file: each star at its own line and column, Jinja or not."""

from __future__ import annotations

from helpers import REPO
from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.engine import FileInput, Linter
from veil.lint.inputs import LineMap
from veil.policy.load import load_policies

LINTER = Linter(PolicyCatalog.build(plan_project(load_policies(REPO))), purpose="analytics")

SOURCE = """{{ config(materialized='table') }}

with users as (
    select * from {{ ref('analyst__users') }}
),
{% for kind in ['a', 'b'] %}
{{ kind }}_events as (select e.* from {{ ref('analyst__events') }} e where e.event_type = '{{ kind }}'),
{% endfor %}
final as (select user_id, country from users)
select * from final
"""

COMPILED = """

with users as (
    select * from "wh"."main"."analyst__users"
),

a_events as (select e.* from "wh"."main"."analyst__events" e where e.event_type = 'a'),

b_events as (select e.* from "wh"."main"."analyst__events" e where e.event_type = 'b'),

final as (select user_id, country from users)
select * from final
"""


def _stars(source: str, compiled: str) -> list[tuple[int, int]]:
    findings = LINTER.lint(FileInput("models/m.sql", compiled, line_map=LineMap(compiled, source), source_text=source))
    return [(f.line, f.column) for f in findings if f.rule == "VL001"]


def test_each_star_of_a_jinja_model_is_reported_where_it_was_written():
    # line 4: a literal `*` before a {{ ref() }}; line 7 (a {% for %} body rendered twice) maps to the one
    # source line only when the rendered lines are told apart, so they fall back to the model's first line;
    # the last line's `select * from final` is the dbt idiom over a named CTE: quiet by default
    stars = _stars(SOURCE, COMPILED)
    assert (4, 12) in stars
    assert SOURCE.splitlines()[3][11] == "*"
    assert (10, 8) not in stars


def test_a_star_on_a_line_without_jinja_keeps_its_column_when_indentation_differs():
    source = "select\n      *\nfrom {{ ref('analyst__users') }}\n"
    compiled = "select\n  *\nfrom \"wh\".\"main\".\"analyst__users\"\n"
    assert _stars(source, compiled) == [(2, 7)]
