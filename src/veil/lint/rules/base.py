"""What a rule sees and returns.

A rule is a module-level object with `info` (its code, name and docs, taken
from the rule's docstring) and `check(statement) -> findings`. Rules never
raise for bad SQL: unparseable input never reaches them (VL900 reports it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from veil.lint.catalog import PolicyCatalog
from veil.lint.config import LintConfig
from veil.lint.findings import RuleInfo, Severity
from veil.lint.lineage import AnalyzedQuery, ColumnUse
from veil.lint.written import Written


@dataclass(frozen=True)
class RawFinding:
    """A finding before the engine places it in a file: an offset and a message."""

    offset: int | None
    message: str
    table: str | None = None       # the policy table it is about
    column: str | None = None      # and the column


@dataclass
class Statement:
    """One statement of a file, with everything the rules need."""

    original: exp.Expression      # as parsed (stars intact) for rules in AS_WRITTEN, else qualified
    query: AnalyzedQuery          # uses and relations, from the qualified copy
    catalog: PolicyCatalog
    purpose: str | None
    config: LintConfig = field(default_factory=LintConfig)
    written: Written | None = None   # the statement's nodes and scopes as parsed, shared with the tracer
    redefined: frozenset[str] = frozenset()   # functions the file itself defines (`create macro veil_mask_x`)

    @property
    def index(self) -> Written:
        """Nodes by type and scopes of `original`, walked once for every rule."""
        if self.written is None:
            self.written = Written(self.original)
        return self.written


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    check: Callable[[Statement], Iterable[RawFinding]] = field(repr=False)


def rule(code: str, name: str, severity: Severity = Severity.ERROR) -> Callable[[Callable], Rule]:
    """Make a rule from a check function; its docstring documents the rule."""

    def wrap(check: Callable[[Statement], Iterable[RawFinding]]) -> Rule:
        doc = inspect.cleandoc(check.__doc__ or "")
        summary = doc.split("\n\n", 1)[0].replace("\n", " ")
        return Rule(RuleInfo(code, name, summary, doc, severity), check)

    return wrap


def describe(use: ColumnUse) -> str:
    """`users.email (source('raw', 'users'))`: the policy column and where it was read."""
    entry = use.entry
    where = entry.model.name if entry.model is not None else str(entry.loaded.relation)
    return f"{entry.table}.{use.column} ({where})"
