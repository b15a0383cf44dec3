"""Read `policies/veil.yml` and `policies/tables/*.yml` into validated models.

The first stage of the compiler and the only one here that touches files.
All problems of a run are collected and raised together as one PolicyError.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from veil.errors import PolicyError, Problem
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ProjectPolicy, TablePolicy
from veil.policy.normalize import normalize_table
from veil.policy.validate import validate_policies
from veil.policy.yaml_lines import LineDict, format_loc, line_of, load_yaml_text

POLICY_DIR = "policies"
PROJECT_FILE = "veil.yml"
TABLES_DIR = "tables"


def _display(path: Path, project_dir: Path) -> str:
    try:
        return str(path.relative_to(project_dir))
    except ValueError:
        return str(path)


def _fields_of(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) valid at `loc`, for did-you-mean hints."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = next((a for a in inner if issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return [f.alias or name for name, f in model.model_fields.items()]


def _message(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = error["loc"]
    kind = error["type"]
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _fields_of(model, loc), n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"unknown key {loc[-1]!r}{suffix}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    message = error["msg"].removeprefix("Value error, ")
    if kind in {"enum", "literal_error"}:
        return f"{message}, got {error['input']!r}"
    return message


def _shape(doc: Any, model: type[BaseModel], path: str) -> tuple[Any, list[Problem]]:
    """Validate a document against a model; problems point at file lines."""
    if not isinstance(doc, LineDict):
        return None, [Problem(path, getattr(doc, "line", 1) or 1, None,
                              f"expected a mapping of keys at the top of the file, got {type(doc).__name__}")]
    try:
        return model.model_validate(doc), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(Problem(path, line_of(doc, loc), format_loc(loc) or None, _message(error, model)))
        return None, problems


def _read(path: Path, display: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(display, None, None, f"cannot read: {exc}")]) from None
    return load_yaml_text(text, display)


def load_policies(project_dir: str | Path = ".") -> Policies:
    """Load and validate every policy of a project.

    Raises PolicyError listing every problem (file, line, key, message).
    """
    project_dir = Path(project_dir)
    policy_dir = project_dir / POLICY_DIR
    project_path = policy_dir / PROJECT_FILE
    project_display = _display(project_path, project_dir)
    if not project_path.is_file():
        raise PolicyError([Problem(project_display, None, None,
                                   "not found: run `veil init` to create the policies skeleton")])
    problems: list[Problem] = []

    def collect(path: Path) -> Any:
        try:
            return _read(path, _display(path, project_dir))
        except PolicyError as exc:
            problems.extend(exc.problems)
            return None

    project_doc = collect(project_path)
    project, found = _shape(project_doc, ProjectPolicy, project_display) if project_doc is not None else (None, [])
    problems += found

    tables: dict[str, LoadedTable] = {}
    table_paths = sorted([*policy_dir.glob(f"{TABLES_DIR}/*.yml"), *policy_dir.glob(f"{TABLES_DIR}/*.yaml")])
    for path in table_paths:
        display = _display(path, project_dir)
        doc = collect(path)
        if doc is None:
            continue
        doc, found = normalize_table(doc, display)
        problems += found
        policy, found = _shape(doc, TablePolicy, display)
        problems += found
        if policy is None:
            continue
        if policy.table in tables:
            problems.append(Problem(display, line_of(doc, ("table",)), "table",
                                    f"table {policy.table!r} is already defined in {tables[policy.table].path}"))
            continue
        tables[policy.table] = LoadedTable(policy, display, doc)

    if project is None:
        raise PolicyError(problems)
    policies = Policies(project, project_display, dict(sorted(tables.items())), project_doc)
    problems += validate_policies(policies)
    if problems:
        raise PolicyError(problems)
    return policies
