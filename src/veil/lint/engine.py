"""The lint engine: text in, findings out, never an exception for bad SQL.

Per file: detect uncompiled Jinja, parse every statement with sqlglot, find
the statement's purpose, trace its column uses (`veil.lint.lineage`), run the
enabled rules, drop suppressed findings (`-- veil: ignore VL00x reason`, on
the line or the line above) and place each finding at `line:column`.

>>> from veil.compile.plan import plan_project
>>> from veil.policy.load import load_policies
>>> linter = Linter(PolicyCatalog.build(plan_project(load_policies("."))))
>>> [f.rule for f in linter.lint_text("-- veil: purpose=analytics\\nselect email from raw.users", "q.sql")]
['VL002', 'VL003']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import sqlglot
from sqlglot.errors import ParseError, SqlglotError, TokenError

from veil.lint.catalog import PolicyCatalog
from veil.lint.config import LintConfig
from veil.lint.deep import deeply
from veil.lint.findings import Finding, RuleInfo, Target
from veil.lint.lineage import AnalyzedQuery, analyze
from veil.lint.rules import (
    BAD_SUPPRESSION,
    BY_CODE,
    PARSE_ERROR,
    RULES,
    RawFinding,
    Rule,
    Statement,
)
from veil.lint.text import (
    UNSUPPRESSIBLE,
    file_purpose,
    jinja_position,
    position,
    suppressions,
)
from veil.lint.written import Written, defined_function
from veil.policy.purposes import PURPOSE_NAME

AS_WRITTEN = {"VL001", "VL901", "VL903"}   # rules that need the statement before qualify expands its stars
UNCOMPILED = ("uncompiled dbt Jinja: compile the dbt project first (`dbt compile`), "
              "then lint the compiled models with `veil lint --dbt`")


class PositionMap(Protocol):
    """Where a (line, column) of the linted text is in the file to report (`veil.lint.inputs.LineMap`)."""

    def position(self, line: int, column: int) -> tuple[int, int]: ...


@dataclass(frozen=True)
class FileInput:
    """One thing to lint: text, the path to report, and what dbt knows about it."""

    path: str
    text: str
    purpose: str | None = None                          # e.g. from dbt meta.veil.purpose
    line_map: PositionMap | None = field(default=None, compare=False)   # compiled -> source (line, column)
    source_text: str | None = None                      # the file to show in reports, if not `text`


def _parse_error(error: Exception, text: str) -> tuple[int, int, str]:
    """Line, column and reason of a sqlglot parse or tokenize error."""
    if isinstance(error, ParseError) and error.errors:
        first = error.errors[0]
        line, column = first.get("line") or 1, first.get("col") or 1
        reason = first.get("description") or str(error)
        return line, column, reason
    return 1, 1, str(error).splitlines()[0] if str(error) else type(error).__name__


class Linter:
    """Lints texts against one catalog of policies, with one configuration."""

    def __init__(self, catalog: PolicyCatalog, config: LintConfig | None = None, purpose: str | None = None):
        self.catalog = catalog
        self.config = config or LintConfig()
        self.purpose = purpose or None
        self.rules: list[Rule] = [r for r in RULES if self.config.is_enabled(r.info.code)]

    @property
    def rule_infos(self) -> list[RuleInfo]:
        return [r.info for r in self.rules]

    def _finding(self, rule: Rule, path: str, line: int, column: int, message: str, target: Target) -> Finding:
        info = rule.info
        return Finding(path, line, column, info.code, info.name,
                       self.config.severity_of(info.code, info.default_severity), message, target)

    def _purpose(self, item: FileInput) -> tuple[str | None, int | None]:
        if self.purpose:
            return self.purpose, None
        declared = file_purpose(item.text)
        if declared:
            return declared
        return item.purpose or self.config.purpose, None

    def lint_text(self, text: str, path: str, purpose: str | None = None) -> list[Finding]:
        """Findings of one text (see `lint`)."""
        return self.lint(FileInput(path, text, purpose))

    def lint(self, item: FileInput) -> list[Finding]:
        """Findings of one file, sorted, suppressions applied, lines mapped."""
        raw: list[tuple[Rule, int, int, str, Target]] = []
        purpose, purpose_line = self._purpose(item)
        try:
            try:
                raw = self._raw_findings(item, purpose, purpose_line)
            except RecursionError:   # valid SQL nested deeper than Python's default stack: analyse it anyway
                raw = deeply(self._raw_findings, item, purpose, purpose_line)
        except Exception as exc:  # noqa: BLE001 - a bad file is a finding, never a crash
            raw = [(PARSE_ERROR, 1, 1, f"could not analyse this SQL: {type(exc).__name__}: {exc}", Target())]
        ignored, problems = suppressions(item.text, BY_CODE)
        raw += [(BAD_SUPPRESSION, line, column, message, Target()) for line, column, message in problems]
        findings = set()
        for rule, line, column, message, target in raw:
            if (rule.info.code in ignored.get(line, set()) and rule.info.code not in UNSUPPRESSIBLE) \
                    or not self.config.is_enabled(rule.info.code):
                continue
            mapped, mapped_column = item.line_map.position(line, column) if item.line_map else (line, column)
            target = Target(target.table, target.column, purpose)
            findings.add(self._finding(rule, item.path, mapped, mapped_column, message, target))
        return sorted(findings)

    def _raw_findings(self, item: FileInput, purpose: str | None, purpose_line: int | None
                      ) -> list[tuple[Rule, int, int, str, Target]]:
        text = item.text
        jinja = jinja_position(text)
        if jinja:
            return [(PARSE_ERROR, *jinja, UNCOMPILED, Target())]
        try:
            statements = [s for s in sqlglot.parse(text, read=self.config.dialect) if s is not None]
        except (ParseError, TokenError, SqlglotError, ValueError) as exc:
            return [(PARSE_ERROR, *_parse_error(exc, text), Target())]
        results: list[tuple[Rule, int, int, str, Target]] = []
        redefined = frozenset(name for s in statements if (name := defined_function(s)))
        if purpose and not self.knows_purpose(purpose):
            line = purpose_line or 1
            return [(BY_CODE["VL002"], line, 1,
                     f"unknown purpose {purpose!r}: declare it under `purposes:` in policies/veil.yml", Target())]
        for original in statements:
            # rules that read the tree as written (VL001) run before analyze() rewrites it
            index = Written(original, self.config.dialect)
            written = Statement(original, AnalyzedQuery(), self.catalog, purpose, self.config, index)
            for rule in self.rules:
                if rule.info.code in AS_WRITTEN:
                    results += [(rule, *self._place(text, f), f.message, Target(f.table, f.column))
                                for f in rule.check(written)]
            statement = Statement(original, analyze(original, self.catalog, self.config.dialect, index),
                                  self.catalog, purpose, self.config, redefined=redefined)
            if purpose is None and statement.query.uses:
                tables = sorted({u.entry.table for u in statement.query.uses})
                results.append((BY_CODE["VL002"], 1, 1, (
                    f"reads policy tables ({', '.join(tables)}) but has no purpose: add "
                    "`-- veil: purpose=<purpose>` to the file, pass --purpose, or set meta.veil.purpose"), Target()))
            for rule in self.rules:
                if rule.info.code not in AS_WRITTEN:
                    results += [(rule, *self._place(text, f), f.message, Target(f.table, f.column))
                                for f in rule.check(statement)]
        return results

    def knows_purpose(self, purpose: str) -> bool:
        return bool(PURPOSE_NAME.match(purpose)) and purpose in self.catalog.policies.project.purposes

    @staticmethod
    def _place(text: str, found: RawFinding) -> tuple[int, int]:
        return position(text, found.offset) if found.offset is not None else (1, 1)
