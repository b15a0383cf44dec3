"""GitHub Actions workflow commands: each finding becomes an annotation.

>>> from veil.lint.findings import Finding, LintResult, Severity
>>> f = Finding("q.sql", 3, 8, "VL001", "select-star", Severity.WARNING, "SELECT * in a projection")
>>> print(format_github(LintResult([f])), end="")
::warning file=q.sql,line=3,col=8,title=VL001 select-star::SELECT * in a projection
"""

from __future__ import annotations

from veil.lint.findings import Finding, LintResult, Severity
from veil.lint.formatters import sorted_findings


def escape_data(text: str) -> str:
    """Escape a command's message the way the Actions runner unescapes it.

    >>> escape_data("100%\\nsure")
    '100%25%0Asure'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value, where `:` and `,` also delimit.

    >>> escape_property("a,b:c")
    'a%2Cb%3Ac'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_command(finding: Finding) -> str:
    """One `::error ...::message` line (`::warning` for warnings)."""
    command = "warning" if Severity(finding.severity) is Severity.WARNING else "error"
    properties = {"file": finding.path, "line": str(finding.line), "col": str(finding.column),
                  "title": f"{finding.rule} {finding.name}"}
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {rendered}::{escape_data(finding.message)}"


def format_github(result: LintResult) -> str:
    """One workflow command per finding, in reading order; empty if none."""
    return "".join(format_command(f) + "\n" for f in sorted_findings(result))
