"""The files veil itself wrote that hold a subject's data, found from the audit trail, and erased.

Three kinds, each listed by one function and erased by another. Subjects are
canonical ids as text (`"51"`), matched exactly; with `apply=False` nothing
changes and the counts say what would. Each eraser returns, per subject, the
files (access exports) or rows (snapshots) it found.

- access exports (`veil access`): a report is entirely about one subject, so
  erasing them means deleting the file. Found from the `access` records
  (`exported`); which subject a file is about is read from the file itself.
- snapshot versions (`veil snapshot`): erased means rewritten without the
  subjects' rows, the manifest updated and the subjects listed as
  `retrain_needed` (see `veil.snapshot.erase`). Found from the `snapshot`
  records (`created`).
- stale temp files: what a killed `veil publish`, `veil snapshot` or `veil
  access` left (from their `started` records), and the `.<name>.rewrite`
  leftovers of veil's own rewrites (of a DuckDB file, `.rewrite.wal` too, or
  of a snapshot file). They hold anyone's data, so they are all deleted
  whenever erasure runs, counted under the pseudo subject `TEMP_FILES`.
  A temp file whose writer still runs (same host, its pid alive, no record
  ending its run) is left alone: deleting it would only break that run.

>>> import tempfile
>>> from veil.audit.trail import AuditTrail
>>> trail = AuditTrail(Path(tempfile.mkdtemp()) / "audit.duckdb")
>>> access_exports(trail), snapshot_versions(trail), stale_temp_files(trail, [])
([], [], [])
>>> remove_stale_temp_files([], apply=True)
{}
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path

from veil.access.paths import path_pattern
from veil.access.write import report_subject
from veil.audit.trail import AuditRecord, AuditTrail
from veil.duckdb_functions import as_keyring
from veil.snapshot.create import MANIFEST
from veil.snapshot.erase import REWRITE_SUFFIX, erase_version

TEMP_FILES = "<temp files>"
"""The pseudo subject stale temp files are counted under (they are about anyone)."""
WRITERS = ("publish", "snapshot", "access")
"""The record kinds of commands that write files through temp files (their `started` records)."""


def _glob(pattern: str) -> set[Path]:
    return {Path(p) for p in glob.glob(pattern)}


def access_exports(trail: AuditTrail) -> list[Path]:
    """The access reports `veil access` wrote that still exist (files that read as reports)."""
    templates = {str(trail.resolve(r.system)) for r in trail.records(kind="access", status="exported")
                 if r.system and trail.resolve(r.system).is_absolute()}
    found = set().union(*(_glob(path_pattern(t)) for t in templates))
    return sorted(p for p in found if p.is_file() and report_subject(p) is not None)


def erase_access_exports(paths: Iterable[Path], subjects: list[str], apply: bool) -> dict[str, int]:
    """Reports per subject among `paths`; with `apply`, delete them (a report is all about its subject)."""
    wanted, counts = set(subjects), {}
    for path in sorted(set(paths)):
        who = report_subject(path)
        if who in wanted:
            counts[who] = counts.get(who, 0) + 1
            if apply:
                path.unlink(missing_ok=True)
    return counts


def snapshot_versions(trail: AuditTrail) -> list[Path]:
    """The snapshot versions `veil snapshot` created that still exist (a folder with its manifest)."""
    folders = {trail.resolve(r.system) for r in trail.records(kind="snapshot", status="created")
               if r.system and trail.resolve(r.system).is_absolute()}
    return sorted(f for f in folders if (f / MANIFEST).is_file())


def erase_snapshot(version_dir: Path, subjects: list[str], apply: bool, *, keyring,
                   trail: AuditTrail) -> dict[str, int]:
    """Rows per subject in the version; with `apply`, rewrite it without them (`veil.snapshot.erase`).

    `keyring`: veil's keys (a Keyring or the raw 32-byte key) for the manifest's
    keyed digests, needed with `apply`; `trail` gets the `erased` record the
    check compares the manifest with.
    """
    ring = as_keyring(keyring)
    key = ring.primary("hmac").material if ring is not None else None
    return erase_version(Path(version_dir), subjects, apply, key=key, trail=trail)


def _still_running(record: AuditRecord, ended: set[str], host: str) -> bool:
    """Whether the run that wrote `record` may still be writing its temp files."""
    detail = record.details
    if detail.get("run") in ended or detail.get("host") != host:
        return False
    try:
        os.kill(int(detail["pid"]), 0)
    except (KeyError, TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True     # alive, someone else's process
    return True


def _run_temp_files(trail: AuditTrail) -> set[Path]:
    """The temp files of `started` runs that are over (killed, or failed without cleaning up)."""
    records = [r for kind in WRITERS for r in trail.records(kind=kind)]
    ended = {r.details.get("run") for r in records if r.status != "started"}
    host = socket.gethostname()
    stale: set[Path] = set()
    live: set[Path] = set()
    for record in (r for r in records if r.status == "started"):
        found = set().union(*(_glob(p) for p in record.details.get("temp_files", [])))
        (live if _still_running(record, ended, host) else stale).update(found)
    return stale - live


def _rewrite_leftovers(folder: Path) -> set[Path]:
    return _glob(f"{glob.escape(str(folder))}/.*{REWRITE_SUFFIX}") | _glob(
        f"{glob.escape(str(folder))}/.*{REWRITE_SUFFIX}.wal")


def stale_temp_files(trail: AuditTrail, extra_dirs: Iterable[Path]) -> list[Path]:
    """Temp files of killed veil runs, and rewrite leftovers in `extra_dirs`, snapshot versions and
    the folders of published files (files or folders; all to delete)."""
    folders = set(map(Path, extra_dirs)) | set(snapshot_versions(trail))
    folders |= {trail.resolve(r.system).parent for r in trail.records(kind="publish")
                if r.system and trail.resolve(r.system).is_absolute()}
    leftovers = set().union(*(_rewrite_leftovers(f) for f in folders if f.is_dir()))
    return sorted(_run_temp_files(trail) | leftovers)


def remove_stale_temp_files(paths: Iterable[Path], apply: bool) -> dict[str, int]:
    """How many of `paths` exist, as `{TEMP_FILES: n}` (empty when none); with `apply`, delete them."""
    existing = [Path(p) for p in sorted(set(paths)) if Path(p).exists()]
    if apply:
        for path in existing:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return {TEMP_FILES: len(existing)} if existing else {}
