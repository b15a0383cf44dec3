"""Retention: the injectable clock, the age predicate, and per-table retention.

- `veil_as_of()`: now, or the dbt var `veil_as_of` (`--vars '{veil_as_of: 2026-11-01}'`)
  so tests and backfills can pin the clock;
- `veil_within_days(time_column, days)`: the row is younger than `days`;
- `veil_retention_filter(table, time_column)`: the table's own retention, by
  policy name, for audience models and hand-written ones alike.

A row whose event time is NULL cannot be shown to be within retention, so the
predicate (a comparison with NULL) excludes it from audience models.
"""

from __future__ import annotations

from sqlglot import exp

from veil.compile import sql
from veil.compile.jinja_text import switch
from veil.compile.naming import (
    CLOCK_MACRO,
    CLOCK_VAR,
    RETENTION_FILTER_MACRO,
    SQL_HEADER,
    WITHIN_DAYS_MACRO,
)
from veil.compile.render_macros import dispatching_macro, per_dialect
from veil.policy.loaded import Policies

AS_OF_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$"

_CLOCK_BODY = f"""\
{{%- set as_of = var('{CLOCK_VAR}', none) -%}}
{{%- if as_of is none -%}}
CAST(CURRENT_TIMESTAMP AS TIMESTAMP)
{{%- elif not modules.re.match('{AS_OF_PATTERN}', as_of | string) -%}}
{{{{ exceptions.raise_compiler_error("var {CLOCK_VAR} must be a date or timestamp such as 2026-11-01 or '2026-11-01 12:00:00', got '" ~ as_of ~ "'") }}}}
{{%- else -%}}
CAST('{{{{ as_of }}}}' AS TIMESTAMP)
{{%- endif -%}}"""


def within_days(time_column: exp.Expression, days: str) -> exp.Expression:
    """`time_column >= veil_as_of() - INTERVAL 'days' DAY`."""
    cutoff = exp.Sub(this=sql.jinja(f"{{{{ {CLOCK_MACRO}() }}}}"),
                     expression=exp.Interval(this=exp.Literal.string(days), unit=exp.Var(this="DAY")))
    return exp.GTE(this=time_column, expression=cutoff)


def render_retention_macros(policies: Policies) -> str:
    """`macros/veil/veil_retention.sql`: clock, age predicate, per-table retention."""
    clock = dispatching_macro(CLOCK_MACRO, "", {"default": _CLOCK_BODY},
                              f"The clock of every retention rule: the var {CLOCK_VAR}, else now.")
    age = dispatching_macro(
        WITHIN_DAYS_MACRO, "time_column, days",
        per_dialect(within_days(sql.jinja("{{ time_column }}"), "{{ days }}")),
        "True for rows younger than `days` days at veil_as_of(): where {{ veil_within_days('e.event_ts', 30) }}")
    cases = {table.name: f"{{{{ {WITHIN_DAYS_MACRO}(time_column, {days}) }}}}"
             for table in policies.table_list() if (days := policies.retention_days(table))}
    per_table = dispatching_macro(
        RETENTION_FILTER_MACRO, "table, time_column",
        {"default": switch("table", cases, "veil_retention_filter: no retention in policies/tables for table")},
        "True for rows within the table's retention: where {{ veil_retention_filter('events', 'e.event_ts') }}")
    return "\n\n".join([SQL_HEADER, clock, age, per_table]) + "\n"
