"""The last stage: put generated files on disk, atomically, or compare them.

veil owns `models/veil/` and `macros/veil/`. Each file is written to a
temporary sibling and renamed into place, so a crash never leaves half a
file; stale generated files (carrying the header) are removed; a file in
those folders without the header is never touched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from veil.compile.naming import GENERATED_DIRS, HEADER
from veil.errors import CompileError, Problem


@dataclass
class WriteReport:
    """What a write (or a check) found, by relative path."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)   # files in generated dirs veil did not write

    @property
    def stale(self) -> list[str]:
        """In check mode: every file that differs from what the policies produce."""
        return sorted(self.written + self.removed)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _existing(project_dir: Path) -> dict[str, Path]:
    found = {}
    for folder in GENERATED_DIRS:
        root = project_dir / folder
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and not path.name.startswith("."):
                    found[path.relative_to(project_dir).as_posix()] = path
    return found


def _is_generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return HEADER in handle.readline()
    except (OSError, UnicodeDecodeError):
        return False


def sync_files(project_dir: Path, files: dict[str, str], check: bool = False) -> WriteReport:
    """Make the generated folders hold exactly `files`; with check, only compare.

    Every file is checked to be writable text before the first one is written.
    """
    unwritable = []
    for relative, text in files.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            unwritable.append(Problem(relative, None, None, f"cannot be written as UTF-8: {exc.reason}"))
    if unwritable:
        raise CompileError(unwritable)
    report = WriteReport()
    existing = _existing(project_dir)
    for relative in sorted(files):
        path = project_dir / relative
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == files[relative]:
            report.unchanged.append(relative)
            continue
        report.written.append(relative)
        if not check:
            write_atomic(path, files[relative])
    for relative, path in sorted(existing.items()):
        if relative in files:
            continue
        if not _is_generated(path):
            report.foreign.append(relative)
            continue
        report.removed.append(relative)
        if not check:
            path.unlink()
    if not check:
        _remove_empty_dirs(project_dir)
    return report


def _remove_empty_dirs(project_dir: Path) -> None:
    for folder in GENERATED_DIRS:
        root = project_dir / folder
        if root.is_dir():
            for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
                if not any(directory.iterdir()):
                    directory.rmdir()
