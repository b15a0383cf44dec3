"""VL900 parse-error."""

from __future__ import annotations

from collections.abc import Iterator

from veil.lint.rules.base import RawFinding, Statement, rule


@rule("VL900", "parse-error")
def check(statement: Statement) -> Iterator[RawFinding]:
    """The SQL does not parse (or is an uncompiled dbt template): reported as a finding, never a crash.

    The engine reports it where sqlglot stopped, with sqlglot's reason; a file
    with Jinja (`{{ ref('x') }}`) is reported once, asking to compile the dbt
    project first (`dbt compile`, then `veil lint --dbt`).

    Anti-pattern:

        select user_id,, email from users

    Best practice:

        select user_id, email from users
    """
    return iter(())
