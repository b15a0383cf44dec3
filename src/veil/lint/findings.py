"""What the linter reports: findings, rule metadata, and a run's result.

>>> f = Finding("q.sql", 3, 8, "VL001", "select-star", Severity.ERROR, "SELECT * in a projection")
>>> f.location
'q.sql:3:8'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Target:
    """What a finding is about, for CI tools that should not parse messages (None where a rule has none)."""

    table: str | None = None
    column: str | None = None
    purpose: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"table": self.table, "column": self.column, "purpose": self.purpose}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place. Lines and columns are 1-based."""

    path: str
    line: int
    column: int
    rule: str          # stable code, e.g. VL002
    name: str          # dotted/kebab name, e.g. pii-disallowed-use
    severity: Severity
    message: str
    target: Target = field(default_factory=Target, compare=False)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class RuleInfo:
    """A rule's stable identity and documentation (from its docstring)."""

    code: str
    name: str
    summary: str          # one sentence
    description: str      # the full docstring: Anti-pattern / Best practice
    default_severity: Severity = Severity.ERROR


@dataclass
class LintResult:
    """Everything a formatter needs about one run."""

    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)           # every path linted, in order
    sources: dict[str, str] = field(default_factory=dict)    # path -> text, to show offending lines
    rules: list[RuleInfo] = field(default_factory=list)      # the rules that ran

    @property
    def counts(self) -> dict[str, int]:
        """Findings per rule code, sorted by code."""
        counts: dict[str, int] = {}
        for finding in sorted(self.findings, key=lambda f: f.rule):
            counts[finding.rule] = counts.get(finding.rule, 0) + 1
        return counts
