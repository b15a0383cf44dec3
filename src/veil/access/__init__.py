"""`veil access`: the GDPR/CCPA right to know, for one data subject.

Collects everything the warehouse holds about a subject (every row of every
policy table with a `subject`, unmasked, with the retention that applies;
their consent decisions and current consent; whether each audience model
includes them and how it handles each column; their erasure requests) into
one JSON or CSV file (0600), and records the access in the audit trail with
a SHA-256 digest of the subject id, never the id itself.

>>> import duckdb, tempfile
>>> from pathlib import Path
>>> from veil.policy.loaded import Policies
>>> from veil.policy.models import ProjectPolicy
>>> policies = Policies(ProjectPolicy(version=1), "policies/veil.yml", {})
>>> report = build_access_report(policies, duckdb.connect(), PhysicalRelations({}), "42")
>>> report["tables"], report["audiences"], report["data_rows"]
([], [], 0)
>>> out = write_access_report(report, Path(tempfile.mkdtemp()) / "42.csv", "csv")
>>> out.read_text().splitlines()[:2]
['section,table,row,field,value', 'report,,,subject,42']
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import duckdb

from veil.access.report import build_access_report, count_data_rows
from veil.access.write import FORMATS, default_path, safe_name, write_access_report
from veil.audit import audit_trail
from veil.errors import UsageError
from veil.relations import PhysicalRelations

__all__ = ["FORMATS", "build_access_report", "run_access", "subject_digest", "write_access_report"]


def subject_digest(subject: str, key: bytes | None = None) -> str:
    """How the audit trail names the subject: HMAC-SHA256 with veil's `hmac` key when
    there are keys (a plain hash of a numeric id is reversed by trying every id),
    else SHA-256.

    >>> subject_digest("42")[:16]
    '73475cb40a568e8d'
    >>> subject_digest("42", bytes(32)) != subject_digest("42")
    True
    """
    if key is not None:
        return hmac.new(key, subject.encode("utf-8"), hashlib.sha256).hexdigest()
    return hashlib.sha256(subject.encode("utf-8")).hexdigest()


def audited_file_name(out: Path, project_dir: Path, subject: str) -> str:
    """The report's path for the audit record: relative to the project, the subject id replaced.

    >>> audited_file_name(Path("proj/access/1-20261101T093000Z.json"), Path("proj"), "1")
    'access/<subject>-20261101T093000Z.json'
    """
    try:
        shown = str(out.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        shown = str(out)
    for token in {subject, safe_name(subject)}:
        shown = re.sub(rf"(?<![A-Za-z0-9]){re.escape(token)}(?![A-Za-z0-9])", "<subject>", shown)
    return shown


def run_access(project_dir: Path, database: Path | None, subject: str, fmt: str, out: Path | None,
               env: Mapping[str, str] = os.environ, *, as_of: datetime | None = None) -> Path:
    """Export everything held about `subject` to `out` (default `access/<subject>-<UTC time>.<fmt>`), audited."""
    from veil.keyring import load_keyring
    from veil.policy.load import load_policies
    from veil.warehouse import resolve_database

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not subject.strip():
        raise UsageError("--subject must not be empty")
    project_dir = Path(project_dir)
    policies = load_policies(project_dir)
    path = resolve_database(project_dir, database)
    if not path.is_file():
        raise UsageError(f"warehouse {path} not found")
    with duckdb.connect(str(path), read_only=True) as con:
        report = build_access_report(policies, con, PhysicalRelations.for_project(project_dir, con), subject,
                                     as_of=as_of)
    out = write_access_report(report, out or default_path(project_dir, subject, fmt), fmt)
    keyring = load_keyring(env)
    key = keyring.primary("hmac").material if keyring is not None else None
    audit_trail(env).append("access", request_id=None, system="veil access", method=fmt,
                            rows=count_data_rows(report), status="exported",
                            detail={"subject_digest": subject_digest(subject, key),
                                    "digest": "hmac-sha256" if key else "sha256",
                                    "file": audited_file_name(out, project_dir, subject)})
    return out
