"""`[tool.veil.lint]` in a project's pyproject.toml: which rules, how severe.

    [tool.veil.lint]
    disable = ["VL004"]
    severity = { VL001 = "warning" }
    exclude = ["models/legacy/*"]
    strict_select_star = false   # true: VL001 also flags `select * from final` over a named-column CTE

>>> config = LintConfig(disable=["VL004"], severity={"VL001": "warning"})
>>> config.is_enabled("VL004"), config.severity_of("VL001", Severity.ERROR).value
(False, 'warning')
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
)

from veil.errors import Problem, ProblemsError
from veil.lint.findings import Severity
from veil.policy.yaml_lines import format_loc

PYPROJECT = "pyproject.toml"
TABLE = "tool.veil.lint"
KNOWN_RULES = ("VL001", "VL002", "VL003", "VL004", "VL900", "VL901", "VL902", "VL903")   # test: every rule


class LintConfigError(ProblemsError):
    """`[tool.veil.lint]` is malformed: an unknown key, rule or value."""


def _known_rule(code: str) -> str:
    if code not in KNOWN_RULES:
        hint = difflib.get_close_matches(code, KNOWN_RULES, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else f"; known rules: {', '.join(KNOWN_RULES)}"
        raise ValueError(f"unknown rule {code!r}{suffix}")
    return code


class LintConfig(BaseModel):
    """How `veil lint` runs; every field can be left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enable: list[str] | None = Field(None, description="rule codes to run; unset runs every rule")
    disable: list[str] = Field(default_factory=list, description="rule codes never to run")
    severity: dict[str, Severity] = Field(default_factory=dict, description="rule code -> error|warning")
    dialect: str = Field("duckdb", description="the sqlglot dialect the SQL is written in")
    purpose: str | None = Field(None, description="the purpose of queries that declare none")
    jobs: StrictInt = Field(1, ge=1, description="files linted in parallel")
    exclude: list[str] = Field(default_factory=list, description="glob patterns of paths to skip")
    strict_select_star: bool = Field(False, description="VL001 also flags `select *` over a CTE with named columns")

    @field_validator("enable", "disable")
    @classmethod
    def _codes(cls, codes: list[str] | None) -> list[str] | None:
        return None if codes is None else [_known_rule(code) for code in codes]

    @field_validator("severity")
    @classmethod
    def _severity_codes(cls, severity: dict[str, Severity]) -> dict[str, Severity]:
        return {_known_rule(code): level for code, level in severity.items()}

    @field_validator("dialect")
    @classmethod
    def _dialect(cls, dialect: str) -> str:
        from sqlglot.dialects.dialect import Dialect

        if Dialect.get(dialect) is None:
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        return dialect

    def is_enabled(self, code: str) -> bool:
        """Whether rule `code` runs: enabled (or all are) and not disabled.

        >>> LintConfig(enable=["VL001", "VL002"], disable=["VL002"]).is_enabled("VL002")
        False
        """
        return (self.enable is None or code in self.enable) and code not in self.disable

    def severity_of(self, code: str, default: Severity) -> Severity:
        """The configured severity of rule `code`, else `default`.

        >>> LintConfig().severity_of("VL001", Severity.WARNING).value
        'warning'
        """
        return self.severity.get(code, default)

    def is_excluded(self, path: str) -> bool:
        """Whether `path` (posix, relative) or a folder above it matches an exclude glob.

        >>> LintConfig(exclude=["models/legacy"]).is_excluded("models/legacy/a.sql")
        True
        """
        candidates = [PurePosixPath(path), *PurePosixPath(path).parents]
        return any(fnmatch.fnmatchcase(str(candidate), pattern)
                   for pattern in self.exclude for candidate in candidates)


def load_lint_config(project_dir: Path) -> LintConfig:
    """Read `[tool.veil.lint]` from `<project_dir>/pyproject.toml`.

    A missing file or table gives the defaults; a bad one raises LintConfigError
    naming `pyproject.toml:<line>: tool.veil.lint.<key>`.

    >>> load_lint_config(Path("/nonexistent")) == LintConfig()
    True
    """
    path = Path(project_dir) / PYPROJECT
    if not path.is_file():
        return LintConfig()
    text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        raise LintConfigError([Problem(PYPROJECT, int(found.group(1)) if found else None, None,
                                       f"TOML syntax error: {exc}")]) from None
    table: Any = document
    for part in TABLE.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else table
    if not isinstance(table, dict):
        raise LintConfigError([Problem(PYPROJECT, key_line(text, TABLE), TABLE,
                                       f"must be a table, got {type(table).__name__}")])
    try:
        return LintConfig.model_validate(table)
    except ValidationError as exc:
        raise LintConfigError([_problem(text, error) for error in exc.errors()]) from None


def _problem(text: str, error: Any) -> Problem:
    loc = tuple(error["loc"])
    key = f"{TABLE}.{format_loc(loc)}"
    if error["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), list(LintConfig.model_fields), n=1)
        message = f"unknown key {loc[-1]!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
    else:
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in {"enum", "literal_error"}:
            message += f", got {error['input']!r}"
    # The most specific key written in the file: `severity.VL009`, else `severity`.
    names = [part for part in loc if isinstance(part, str)]
    line = next((found for size in range(len(names), 0, -1)
                 if (found := key_line(text, ".".join([TABLE, *names[:size]])))), None)
    return Problem(PYPROJECT, line, key, message)


_KEY_PART = r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'"""
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"^\s*((?:{_KEY_PART})(?:\s*\.\s*(?:{_KEY_PART}))*)\s*=")


def _dotted(key: str) -> str:
    """`tool. "veil" .lint` -> `tool.veil.lint`."""
    return ".".join(part.strip("\"'") for part in re.findall(_KEY_PART, key))


def key_line(text: str, dotted_key: str) -> int | None:
    """The 1-based line where the TOML key `dotted_key` is set or opened, if any.

    >>> key_line("[tool.veil.lint]\\njobs = 2\\n", "tool.veil.lint.jobs")
    2
    >>> key_line("[tool.veil.lint.severity]\\nVL001 = 'x'\\n", "tool.veil.lint.severity")
    1
    """
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            full = table
        elif assignment := _ASSIGNMENT.match(line):
            left = _dotted(assignment.group(1))
            full = f"{table}.{left}" if table else left
        else:
            continue
        if full == dotted_key or full.startswith(dotted_key + "."):
            return number
    return None
