"""VL902 bad-suppression."""

from __future__ import annotations

from collections.abc import Iterator

from veil.lint.rules.base import RawFinding, Statement, rule


@rule("VL902", "bad-suppression")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A `-- veil: ignore` comment without a reason, naming no known rule, or naming VL900/VL901.

    A suppression silences exactly the rules it names, on its line and the
    next, and says why. VL900 and VL901 mean the statement was never
    analysed: nothing is known to excuse, so a comment cannot silence them
    (exclude the file in `[tool.veil.lint]` if you must). The engine reports
    this rule while reading the file's comments.

    Anti-pattern:

        select * from t  -- veil: ignore VL001

    Best practice:

        select * from t  -- veil: ignore VL001 staging dump, reviewed in #412
    """
    return iter(())
