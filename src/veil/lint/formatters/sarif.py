"""SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure) read.

Artifact URIs are relative to `%SRCROOT%` (the checkout), so a log written on
one machine is read on another.

>>> from veil.lint.findings import LintResult
>>> log = as_sarif(LintResult(files=["q.sql"]))
>>> log["version"], log["runs"][0]["tool"]["driver"]["name"]
('2.1.0', 'veil')
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import veil
from veil.lint.findings import Finding, LintResult, RuleInfo, Severity
from veil.lint.formatters import sorted_findings

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/veil/"
SRCROOT = "%SRCROOT%"


def artifact_uri(path: str, cwd: Path | None = None) -> str:
    """A relative, percent-encoded URI for `path`; absolute paths become
    relative to `cwd` (default: the current directory).

    >>> artifact_uri("./models/my query.sql")
    'models/my%20query.sql'
    >>> artifact_uri("/repo/models/q.sql", cwd=Path("/repo"))
    'models/q.sql'
    """
    target = Path(path)
    if target.is_absolute():
        base = cwd or Path.cwd()
        try:
            target = target.relative_to(base)
        except ValueError:
            try:
                target = Path(os.path.relpath(target, base))
            except ValueError:  # another drive on Windows: nothing relative exists
                return target.as_uri()
    return quote(PurePosixPath(target.as_posix()).as_posix(), safe="/")


def _level(severity: Severity | str) -> str:
    return Severity(severity).value  # SARIF's levels "error"/"warning" match ours


def _descriptor(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description or rule.summary},
        "defaultConfiguration": {"level": _level(rule.default_severity)},
    }


def _rules(result: LintResult) -> list[RuleInfo]:
    """The rules that ran, plus any a finding names that were not listed."""
    rules: dict[str, RuleInfo] = {}
    for rule in result.rules:
        rules.setdefault(rule.code, rule)
    for finding in sorted_findings(result):
        if finding.rule not in rules:
            rules[finding.rule] = RuleInfo(finding.rule, finding.name, finding.name, "", finding.severity)
    return list(rules.values())


def _result(finding: Finding, rule_index: int, artifact_index: dict[str, int]) -> dict[str, Any]:
    artifact_location: dict[str, Any] = {"uri": artifact_uri(finding.path), "uriBaseId": SRCROOT}
    if finding.path in artifact_index:
        artifact_location["index"] = artifact_index[finding.path]
    region = {"startLine": max(finding.line, 1), "startColumn": max(finding.column, 1)}
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _level(finding.severity),
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact_location, "region": region}}],
        "properties": {"target": finding.target.as_dict()},
    }


def as_sarif(result: LintResult) -> dict[str, Any]:
    """The SARIF log as plain Python data: one run of the tool "veil"."""
    rules = _rules(result)
    rule_index = {rule.code: index for index, rule in enumerate(rules)}
    files = list(dict.fromkeys(result.files))
    artifact_index = {path: index for index, path in enumerate(files)}
    driver = {"name": "veil", "informationUri": INFORMATION_URI, "version": veil.__version__,
              "rules": [_descriptor(rule) for rule in rules]}
    run = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "artifacts": [{"location": {"uri": artifact_uri(path), "uriBaseId": SRCROOT},
                       "roles": ["analysisTarget"]} for path in files],
        "results": [_result(f, rule_index[f.rule], artifact_index) for f in sorted_findings(result)],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def format_sarif(result: LintResult) -> str:
    """The SARIF log as indented JSON."""
    return json.dumps(as_sarif(result), indent=2, ensure_ascii=False) + "\n"
