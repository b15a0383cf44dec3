"""Render a LintResult for people, machines and CI systems.

One module per format, each a pure function from a result to text.

>>> from veil.lint.findings import LintResult
>>> format_result(LintResult(files=["a.sql"]), "human")
'no findings in 1 file\\n'
"""

from __future__ import annotations

from veil.errors import UsageError
from veil.lint.findings import Finding, LintResult

FORMATS = ("human", "json", "sarif", "github", "junit")


def sorted_findings(result: LintResult) -> list[Finding]:
    """Findings in reading order: by path, line, column, then rule code."""
    return sorted(result.findings, key=lambda f: (f.path, f.line, f.column, f.rule, f.message))


def format_result(result: LintResult, fmt: str, *, color: bool = False) -> str:
    """Render `result` in one of FORMATS; `color` only affects "human".

    >>> from veil.lint.findings import LintResult
    >>> format_result(LintResult(), "github")
    ''
    """
    from veil.lint.formatters import github, human, json_format, junit, sarif

    if fmt == "human":
        return human.format_human(result, color=color)
    renderers = {"json": json_format.format_json, "sarif": sarif.format_sarif,
                 "github": github.format_github, "junit": junit.format_junit}
    if fmt not in renderers:
        raise UsageError(f"unknown lint format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return renderers[fmt](result)
