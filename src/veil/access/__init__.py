"""`veil access`: the GDPR/CCPA right to know, for one data subject.

Collects everything the warehouse holds about a subject (every row of every
policy table with a `subject`, unmasked, with the retention that applies;
their consent decisions and current consent; whether each audience model
includes them and how it handles each column; their erasure requests) into
one JSON or CSV file (0600), and records the access in the audit trail with
a digest of the subject id, never the id itself: an `access` record with
status `started` before the file is written (its temp file's pattern, for
`veil erase` to find it if the run is killed), then one `exported`. Both
name the file (`system`: its absolute path, the id replaced by `<subject>`).

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
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import duckdb  # noqa: F401 - the doctest uses it

from veil.access.paths import audited_file_name, audited_path, temp_pattern
from veil.access.report import build_access_report, count_data_rows
from veil.access.write import FORMATS, default_path, report_subject, write_access_report
from veil.audit import audit_trail
from veil.errors import UsageError
from veil.hmac_sql import subject_digest_key
from veil.publish import started_detail
from veil.relations import PhysicalRelations  # noqa: F401 - the doctest uses it

__all__ = ["FORMATS", "audited_file_name", "build_access_report", "report_subject", "run_access", "subject_digest",
           "write_access_report"]


def subject_digest(subject: str, key: bytes | None = None) -> str:
    """How the audit trail names the subject: HMAC-SHA256 with the subject-digest key when
    there are keys (a plain hash of a numeric id is reversed by trying every id),
    else SHA-256.

    >>> subject_digest("42")[:16]
    '73475cb40a568e8d'
    >>> subject_digest("42", bytes(32)) != subject_digest("42")
    True
    """
    if key is not None:   # the subject-digest key, never the pseudonym key: see veil.hmac_sql
        return hmac.new(subject_digest_key(key), subject.encode("utf-8"), hashlib.sha256).hexdigest()
    return hashlib.sha256(subject.encode("utf-8")).hexdigest()


def run_access(project_dir: Path, database: Path | None, subject: str, fmt: str, out: Path | None,
               env: Mapping[str, str] = os.environ, *, as_of: datetime | None = None) -> Path:
    """Export everything held about `subject` to `out` (default `access/<subject>-<UTC time>.<fmt>`), audited.

    The warehouse is the project's (`database`: a DuckDB file instead), on either engine.
    """
    from veil.keyring import load_keyring
    from veil.policy.load import load_policies
    from veil.project import Project

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not subject.strip():
        raise UsageError("--subject must not be empty")
    project_dir = Path(project_dir)
    policies = load_policies(project_dir)
    project = Project.load(project_dir, env=env, database=database)
    with project.warehouse(read_only=True) as warehouse:
        report = build_access_report(policies, warehouse, subject=subject, as_of=as_of)
    target = Path(out or default_path(project_dir, subject, fmt))
    keyring = load_keyring(env)
    key = keyring.primary("hmac").material if keyring is not None else None
    trail = audit_trail(env)
    shown = audited_path(target, project_dir, subject)
    about = {"subject_digest": subject_digest(subject, key), "digest": "hmac-sha256" if key else "sha256",
             "file": audited_file_name(target, project_dir, subject)}
    started = started_detail([temp_pattern(shown)])
    recorded = trail.relative(shown)   # relative to the project when inside it (a copied project's own files)
    trail.append("access", system=recorded, method=fmt, status="started", detail={**about, **started})
    out = write_access_report(report, target, fmt)
    trail.append("access", system=recorded, method=fmt, rows=count_data_rows(report), status="exported",
                 detail={**about, "run": started["run"]})
    return out
