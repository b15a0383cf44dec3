"""The JSON format: every finding and a summary, keys in a fixed order.

>>> from veil.lint.findings import LintResult
>>> print(format_json(LintResult(files=["a.sql"])), end="")
{
  "findings": [],
  "summary": {
    "files": 1,
    "findings": 0,
    "by_rule": {},
    "by_severity": {
      "error": 0,
      "warning": 0
    }
  }
}
"""

from __future__ import annotations

import json
from typing import Any

from veil.lint.findings import LintResult, Severity
from veil.lint.formatters import sorted_findings


def as_dict(result: LintResult) -> dict[str, Any]:
    """The JSON document as plain Python data."""
    findings = [
        {"rule": f.rule, "name": f.name, "severity": Severity(f.severity).value, "path": f.path,
         "line": f.line, "column": f.column, "message": f.message, "target": f.target.as_dict()}
        for f in sorted_findings(result)
    ]
    by_severity = {s.value: 0 for s in Severity}
    for finding in findings:
        by_severity[finding["severity"]] += 1
    summary = {"files": len(result.files), "findings": len(findings),
               "by_rule": result.counts, "by_severity": by_severity}
    return {"findings": findings, "summary": summary}


def format_json(result: LintResult) -> str:
    """`{"findings": [...], "summary": {...}}`, indented by two spaces."""
    return json.dumps(as_dict(result), indent=2, ensure_ascii=False) + "\n"
