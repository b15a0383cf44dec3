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
from veil.policy.limits import (
    MAX_FILE_BYTES,
    MAX_KEY,
    MAX_MESSAGE,
    clip,
    echo,
    printable,
)
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ProjectPolicy, TablePolicy
from veil.policy.normalize import normalize_table
from veil.policy.validate import validate_policies
from veil.policy.yaml_lines import LineDict, format_loc, line_of, load_yaml_text

POLICY_DIR = "policies"
PROJECT_FILE = "veil.yml"
TABLES_DIR = "tables"


def _display(path: Path, project_dir: Path) -> str:
    """The path as messages and generated files show it: relative, one printable line."""
    try:
        shown = str(path.relative_to(project_dir))
    except ValueError:
        shown = str(path)
    return printable(shown)


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
        return f"unknown key {echo(loc[-1])}{suffix}"
    if kind == "missing":
        return f"missing required key {echo(loc[-1])}"
    message = error["msg"].removeprefix("Value error, ")
    if kind in {"enum", "literal_error"}:
        return f"{message}, got {echo(error['input'])}"
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
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-"))))
            problems.append(Problem(path, line_of(doc, loc), format_loc(loc) or None, _message(error, model)))
        return None, problems


def _decode(data: bytes, display: str) -> str:
    """UTF-8 text, or a PolicyError at the line of the first byte that is not (or of a NUL)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError([Problem(display, line, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x}): "
                                   "a binary file, or text in another encoding; save it as UTF-8")]) from None
    nul = text.find("\0")
    if nul >= 0:
        raise PolicyError([Problem(display, text.count("\n", 0, nul) + 1, None,
                                   "not text: a NUL byte (a binary file?)")])
    return text


def _read(path: Path, display: str) -> Any:
    """The located document of a policy file; a PolicyError when it is not a readable, non-empty policy."""
    def refuse(message: str, line: int | None = None) -> PolicyError:
        return PolicyError([Problem(display, line, None, message)])

    if not path.is_file():
        raise refuse("not a regular file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read: {clip(str(exc), MAX_MESSAGE)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"too large for a policy file (more than {MAX_FILE_BYTES // 1024} KiB)")
    doc = load_yaml_text(_decode(data, display), display)
    if doc is None:
        raise refuse("the file holds no policy (it is empty or only comments); "
                     "write its keys, or delete the file", 1)
    return doc


def _bounded(problem: Problem) -> Problem:
    """The problem on one printable line, its key and message cut to a readable length."""
    key = clip(printable(problem.key), MAX_KEY) if problem.key else problem.key
    message = clip(printable(problem.message), MAX_MESSAGE)
    if key == problem.key and message == problem.message:
        return problem
    return Problem(problem.path, problem.line, key, message)


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
        display = _display(path, project_dir)
        try:
            return _read(path, display)
        except PolicyError as exc:
            problems.extend(exc.problems)
        except RecursionError:
            problems.append(Problem(display, None, None, "too deeply nested to load"))
        except MemoryError:
            problems.append(Problem(display, None, None, "too large to load"))
        return None

    def shape(doc: Any, model: type[BaseModel], display: str) -> tuple[Any, list[Problem]]:
        try:
            return _shape(doc, model, display)
        except (RecursionError, MemoryError):
            return None, [Problem(display, None, None, "too large or too deeply nested to validate")]

    project_doc = collect(project_path)
    project, found = shape(project_doc, ProjectPolicy, project_display) if project_doc is not None else (None, [])
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
        policy, found = shape(doc, TablePolicy, display)
        problems += found
        if policy is None:
            continue
        if policy.table in tables:
            problems.append(Problem(display, line_of(doc, ("table",)), "table",
                                    f"table {echo(policy.table)} is already defined in {tables[policy.table].path}"))
            continue
        tables[policy.table] = LoadedTable(policy, display, doc)

    if project is None:
        raise PolicyError([_bounded(p) for p in problems])
    policies = Policies(project, project_display, dict(sorted(tables.items())), project_doc)
    problems += validate_policies(policies)
    if problems:
        raise PolicyError([_bounded(p) for p in problems])
    return policies
