"""What to lint: plain `.sql` files and folders, or a dbt project's compiled models.

dbt mode reads `target/manifest.json` (run `dbt compile` or `dbt build`
first; `veil.project.Project` reads it, honouring `target-path`): each
model's compiled SQL, its purpose from `meta.veil.purpose` (settable per
folder in `dbt_project.yml`), reported at the model's source file. A line
of compiled SQL maps back to the source line with the same text when there
is exactly one; otherwise to the model's first line.
veil's own generated models are skipped: `veil compile` wrote them from the
policies and their generated tests prove them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.compile.naming import MODELS_DIR
from veil.errors import UsageError
from veil.lint.engine import FileInput
from veil.project import Project

MANIFEST = Path("target") / "manifest.json"     # where dbt writes it by default


def read_manifest(project_dir: Path) -> dict[str, Any] | None:
    """The project's dbt manifest for the catalog, or None: none yet, unreadable, or no dbt project at all
    (plain-file mode needs none; dbt mode reports the problem in `dbt_models`)."""
    try:
        return Project.load(project_dir).manifest
    except UsageError:
        return None


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def sql_files(paths: Iterable[Path], excluded: Callable[[str], bool]) -> list[FileInput]:
    """Every `.sql` file named or under a named folder, sorted; unreadable bytes are replaced."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.sql") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    inputs = []
    for path in dict.fromkeys(found):
        display = _display(path)
        if not excluded(display):
            inputs.append(FileInput(display, path.read_text(encoding="utf-8", errors="replace")))
    return inputs


@dataclass(frozen=True)
class LineMap:
    """Map a compiled (line, column) back to the model's source file.

    A compiled line whose text is a unique source line's (indentation aside)
    maps there, its column shifted by the indentation. A line the source
    wrote with Jinja in it (`select * from {{ ref('t') }}`) maps to the unique
    source line whose literal text, around its `{{ }}` / `{% %}` parts, matches
    it: a column in literal text keeps its place, one inside an expansion
    goes to the start of the Jinja that made it. Anything else maps to the
    model's first line. A plain object (not a closure) so files can be
    linted in worker processes.

    >>> mapper = LineMap('select *\\nfrom "db"."t" as t, "db"."u" u',
    ...                  "select *\\n  from {{ ref('t') }} as t, {{ ref('u') }} u")
    >>> mapper.position(1, 8), mapper.position(2, 18), mapper.position(2, 6)
    ((1, 8), (2, 26), (2, 8))
    >>> mapper(2)
    2
    """

    compiled: str
    source: str

    def __call__(self, line: int) -> int:
        return self.position(line, 1)[0]

    def position(self, line: int, column: int) -> tuple[int, int]:
        compiled_lines = self.compiled.splitlines()
        if not 1 <= line <= len(compiled_lines) or not compiled_lines[line - 1].strip():
            return 1, 1
        text = compiled_lines[line - 1]
        wanted = text.strip()
        source_lines = self.source.splitlines()
        same = [n for n, source in enumerate(source_lines, start=1) if source.strip() == wanted]
        if len(same) == 1:
            source = source_lines[same[0] - 1]
            shifted = column - _indent(text) + _indent(source)
            return same[0], max(1, shifted)
        if same:
            return 1, 1
        templated = [(n, found) for n, source in enumerate(source_lines, start=1)
                     if JINJA_PART.search(source) and (found := _match_templated(source.strip(), wanted))]
        if len(templated) != 1:
            return 1, 1
        number, mapping = templated[0]
        return number, mapping(column - _indent(text)) + _indent(source_lines[number - 1])


JINJA_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _match_templated(source: str, compiled: str) -> Callable[[int], int] | None:
    """A column mapping when `compiled` is `source` with its Jinja parts rendered, else None."""
    literals, jinja_starts, position = [], [], 0
    for part in JINJA_PART.finditer(source):
        literals.append((position, source[position:part.start()]))
        jinja_starts.append(part.start())
        position = part.end()
    literals.append((position, source[position:]))
    if not any(text.strip() for _, text in literals):
        return None   # a line of Jinja alone (`{{ config(...) }}`, `{% for %}`) would match anything
    pattern = "(.*?)".join(f"({re.escape(text)})" for _, text in literals)
    found = re.fullmatch(pattern, compiled)
    if found is None:
        return None

    def mapping(column: int) -> int:
        offset = column - 1
        for index, (source_start, _) in enumerate(literals):
            group = 2 * index + 1
            if found.start(group) <= offset < found.end(group) or (
                    found.start(group) == found.end(group) == offset):
                return source_start + offset - found.start(group) + 1
            if index < len(jinja_starts) and found.start(group + 1) <= offset < found.end(group + 1):
                return jinja_starts[index] + 1
        return 1

    return mapping


def _purpose(node: dict) -> str | None:
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    veil = meta.get("veil") or {}
    return veil.get("purpose") if isinstance(veil, dict) else None


def dbt_models(project_dir: Path, excluded: Callable[[str], bool]) -> tuple[list[FileInput], list[str]]:
    """Compiled models of the project's manifest, except veil's generated ones,
    and the models that have no compiled SQL (a partial `dbt compile --select`)."""
    project = Project.load(project_dir)          # the one reader of the manifest
    path = project.target_dir / "manifest.json"
    if path.is_relative_to(project.root):
        path = project_dir / path.relative_to(project.root)      # as the user named the project
    manifest = project.manifest
    if manifest is None:
        raise UsageError(f"{path} not found: run `dbt compile` (or `dbt build`) first")
    inputs, uncompiled = [], []
    for node in sorted(manifest.get("nodes", {}).values(), key=lambda n: n.get("original_file_path", "")):
        original = node.get("original_file_path", "")
        if node.get("resource_type") != "model" or original.startswith(f"{MODELS_DIR}/"):
            continue
        display = _display(project_dir / original)
        if excluded(display):
            continue
        compiled = node.get("compiled_code")
        if compiled is None:
            uncompiled.append(display)
            continue
        source = node.get("raw_code") or ""
        inputs.append(FileInput(display, compiled, _purpose(node), LineMap(compiled, source), source))
    if uncompiled and not inputs:
        raise UsageError(f"{path}: no model has compiled SQL: run `dbt compile` first")
    return inputs, uncompiled
