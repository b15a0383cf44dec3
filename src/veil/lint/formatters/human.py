"""The terminal format: one finding per location, the source line, a caret.

>>> from veil.lint.findings import Finding, LintResult, Severity
>>> f = Finding("q.sql", 1, 8, "VL001", "select-star", Severity.ERROR, "SELECT * in a projection")
>>> print(format_human(LintResult([f], ["q.sql"], {"q.sql": "select * from t"})), end="")
q.sql:1:8: VL001 SELECT * in a projection
    select * from t
           ^
1 finding (VL001: 1) in 1 file
"""

from __future__ import annotations

from veil.lint.findings import Finding, LintResult, Severity
from veil.lint.formatters import sorted_findings

INDENT = "    "
_RESET = "\033[0m"
_BOLD = "\033[1m"
_SEVERITY_COLOR = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _snippet(finding: Finding, source: str | None, color: bool) -> list[str]:
    """The offending line and a caret under the column; nothing if unknown."""
    lines = (source or "").splitlines()
    if not 1 <= finding.line <= len(lines):
        return []
    text = lines[finding.line - 1]
    # Keep tabs in the caret's padding so the caret lines up however tabs render.
    padding = "".join(c if c == "\t" else " " for c in text[: max(finding.column, 1) - 1])
    caret = _paint("^", _SEVERITY_COLOR[finding.severity], color)
    return [INDENT + text, INDENT + padding + caret]


def summary_line(result: LintResult) -> str:
    """`3 findings (VL001: 1, VL002: 2) in 12 files` or `no findings in 12 files`.

    >>> summary_line(LintResult(files=["a.sql", "b.sql"]))
    'no findings in 2 files'
    """
    files = _plural(len(result.files), "file")
    if not result.findings:
        return f"no findings in {files}"
    by_rule = ", ".join(f"{code}: {count}" for code, count in result.counts.items())
    return f"{_plural(len(result.findings), 'finding')} ({by_rule}) in {files}"


def format_human(result: LintResult, *, color: bool = False) -> str:
    """Findings sorted by path, line, column and rule, then a summary line."""
    out: list[str] = []
    for finding in sorted_findings(result):
        location = _paint(f"{finding.location}:", _BOLD, color)
        code = _paint(finding.rule, _SEVERITY_COLOR[finding.severity], color)
        # One line per finding, so editors and `grep` can read `path:line:col:`.
        message = " ".join(finding.message.splitlines())
        out.append(f"{location} {code} {message}")
        out.extend(_snippet(finding, result.sources.get(finding.path), color))
    out.append(_paint(summary_line(result), _BOLD, color))
    return "\n".join(out) + "\n"
