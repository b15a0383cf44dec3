"""`veil snapshot --check DIR`: is a training snapshot still clean?

Two questions. Has any subject in the snapshot asked to be erased (since the
snapshot, or before it and present anyway)? Then models trained on it must be
retrained without them. That includes the subjects `veil erase` already
removed from the files (`retrain_needed` in the manifest, and in the audit
trail's `erased` records): the files no longer hold them, the models do.
And are the files still the ones the manifest describes? Each Parquet file's
SHA-256 is recomputed, the content hash over them too, and when the audit
trail holds the snapshot's records, the manifest's own SHA-256 is compared
with the latest one recorded (at creation, or by the latest erasure), so
editing `subjects` or `retrain_needed` to hide someone is caught. Changes an
erasure found before it rewrote the version stay reported (the rewrite does
not make them legitimate).

>>> check = SnapshotCheck(Path("ml-20260101T000000Z"), "ml", "ab" * 32, ("cd" * 32,), None, None, (), "matches")
>>> check.erased_count, check.clean, check.exit_code
(1, False, 1)
>>> SnapshotCheck(Path("ml-20260101T000000Z"), "ml", "ab" * 32, (), None, None, (), "matches",
...               retrain_needed=("ef" * 32,)).exit_code
1
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from veil.audit.trail import AuditRecord, AuditTrail, audit_db_path
from veil.compile.plan import ProjectPlan
from veil.errors import UsageError
from veil.relations import PhysicalRelations
from veil.snapshot.create import FORMAT, MANIFEST, content_hash, file_sha256
from veil.snapshot.registry import keyed_connection, read_erasure_registry

READABLE_VERSIONS = (1, 2)   # 2: version 1 after `veil erase` rewrote it (`retrain_needed`, `erasures`)
RECORDED = ("created", "erased")


@dataclass(frozen=True)
class SnapshotCheck:
    """What `check_snapshot` found. Clean: no snapshot subject is erased now and no file changed."""

    snapshot: Path
    audience: str
    content_hash: str
    erased_subjects: tuple[str, ...]              # digests of snapshot subjects in the registry now
    registry_at_snapshot: dict[str, Any] | None   # high-water mark in the manifest
    registry_now: dict[str, Any] | None           # high-water mark in the warehouse today
    changed_files: tuple[str, ...]                # missing or altered files, manifest.json included
    audit: str                                    # manifest vs its audit record: see `audit_status`
    untraced_tables: tuple[str, ...] = ()         # tables whose subjects the manifest cannot list
    retrain_needed: tuple[str, ...] = ()          # digests of subjects erased from the files since the snapshot

    @property
    def erased_count(self) -> int:
        return len(set(self.erased_subjects) | set(self.retrain_needed))

    @property
    def registry_advanced(self) -> bool:
        return self.registry_now != self.registry_at_snapshot

    @property
    def clean(self) -> bool:
        return not self.erased_subjects and not self.retrain_needed and not self.changed_files

    @property
    def exit_code(self) -> int:
        return 0 if self.clean else 1


def read_manifest(snapshot_dir: Path) -> dict[str, Any]:
    path = Path(snapshot_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a veil snapshot manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UsageError(f"{path}: not a veil snapshot manifest")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise UsageError(f"{path}: snapshot format version {manifest.get('format_version')!r} is not supported "
                         f"(this veil reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    return manifest


def changed_files(snapshot_dir: Path, manifest: Mapping[str, Any]) -> list[str]:
    """Files that are missing or whose SHA-256 differs from the manifest's, plus unlisted Parquet files."""
    changed = []
    listed = {t["file"]: t["sha256"] for t in manifest["tables"]}
    for name, expected in sorted(listed.items()):
        path = Path(snapshot_dir) / name
        if not path.is_file() or file_sha256(path) != expected:
            changed.append(name)
    changed += sorted(p.name for p in Path(snapshot_dir).glob("*.parquet") if p.name not in listed)
    if content_hash({t["model"]: t["sha256"] for t in manifest["tables"]}) != manifest.get("content_hash"):
        changed.append(MANIFEST)
    return changed


def version_records(trail: AuditTrail, snapshot_dir: Path) -> list[AuditRecord]:
    """The trail's `snapshot` records that wrote this version (`created`, then any `erased`), oldest first.

    Matched by the version's path; failing that by its folder name (records
    written before veil recorded paths, or a version moved elsewhere).
    """
    folder = Path(snapshot_dir)
    records = [r for r in trail.records(kind="snapshot") if r.status in RECORDED and r.system]
    exact = [r for r in records if trail.resolve(r.system).absolute() in {folder.absolute(), folder.resolve()}
             or trail.resolve(r.system).resolve() == folder.resolve()]
    return exact or [r for r in records if Path(r.system).name == folder.resolve().name]


def _records(snapshot_dir: Path, env: Mapping[str, str]) -> list[AuditRecord] | None:
    """The version's records, or None when there is no trail to read."""
    if not audit_db_path(env).is_file():
        return None     # not created here, or the trail lives elsewhere: nothing to compare with
    try:
        return version_records(AuditTrail(audit_db_path(env)), snapshot_dir)
    except duckdb.Error:
        return None


def audit_status(snapshot_dir: Path, records: list[AuditRecord] | None) -> str:
    """The manifest against the digest last recorded: `matches`, `differs`, `no record` or `no trail`."""
    if records is None:
        return "no trail"
    recorded = records[-1].details.get("manifest_sha256") if records else None
    if recorded is None:
        return "no record"
    return "matches" if recorded == file_sha256(Path(snapshot_dir) / MANIFEST) else "differs"


def recorded_erasures(records: list[AuditRecord] | None) -> tuple[set[str], list[str]]:
    """From the `erased` records: the subjects' digests they removed, and the changes they found first."""
    retrain: set[str] = set()
    changed: list[str] = []
    for record in records or []:
        if record.status == "erased":
            retrain |= set(record.details.get("retrain_needed", []))
            changed += record.details.get("changed_before", [])
    return retrain, changed


def check_snapshot(plan: ProjectPlan, database: Path, snapshot_dir: Path, *, env: Mapping[str, str] = os.environ,
                   relations: PhysicalRelations | None = None) -> SnapshotCheck:
    """Check a snapshot folder against today's deletion registry in `database` and its own manifest.

    `relations` locates the erasure relation; without it a source is `<source>.<table>`.
    Reads only: the warehouse, the snapshot and the audit trail are left as they are.
    """
    snapshot_dir = Path(snapshot_dir)
    manifest = read_manifest(snapshot_dir)
    changed = changed_files(snapshot_dir, manifest)
    records = _records(snapshot_dir, env)
    audit = audit_status(snapshot_dir, records)
    if audit == "differs":
        changed.append(MANIFEST)
    retrain, changed_before = recorded_erasures(records)
    changed += changed_before
    database = Path(database)
    if not database.is_file():
        raise UsageError(f"warehouse {database} not found")
    with keyed_connection(database, env) as con:
        registry = read_erasure_registry(con, plan.policies, relations or PhysicalRelations({}))
    erased = tuple(sorted(set(manifest.get("subjects", [])) & set(registry.erased_subjects))) if registry else ()
    then = manifest.get("erasure_registry")
    return SnapshotCheck(
        snapshot=snapshot_dir, audience=manifest["audience"], content_hash=manifest["content_hash"],
        erased_subjects=erased,
        registry_at_snapshot={k: then[k] for k in ("requests", "max_requested_at")} if then else None,
        registry_now=registry.high_water_mark() if registry else None,
        changed_files=tuple(dict.fromkeys(changed)), audit=audit,
        untraced_tables=tuple(manifest.get("untraced_tables", [])),
        retrain_needed=tuple(sorted(retrain | set(manifest.get("retrain_needed", [])))))


def _mark(registry: Mapping[str, Any] | None) -> str:
    if registry is None:
        return "none"
    return f"{registry['requests']} requests, latest {registry['max_requested_at'] or '-'}"


def format_check(check: SnapshotCheck) -> str:
    """What `veil snapshot --check` prints; the last line is the verdict.

    >>> print(format_check(SnapshotCheck(Path("ml-20260101T000000Z"), "ml", "ab" * 32, ("cd" * 32,),
    ...     {"requests": 1, "max_requested_at": "2026-01-01"}, {"requests": 2, "max_requested_at": "2026-02-01"},
    ...     (), "matches")))
    snapshot ml-20260101T000000Z (audience ml, content abababababab)
      files: unchanged (audit record: matches)
      erasure registry: 1 requests, latest 2026-01-01 at snapshot; now 2 requests, latest 2026-02-01
      erased subject: cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd
    RETRAIN: 1 subjects in the snapshot are in the deletion registry
    """
    lines = [f"snapshot {check.snapshot} (audience {check.audience}, content {check.content_hash[:12]})",
             f"  files: {'CHANGED ' + ', '.join(check.changed_files) if check.changed_files else 'unchanged'}"
             f" (audit record: {check.audit})",
             f"  erasure registry: {_mark(check.registry_at_snapshot)} at snapshot; now {_mark(check.registry_now)}"]
    if check.untraced_tables:
        lines.append(f"  not traceable (subject not kept raw): {', '.join(check.untraced_tables)}")
    lines += [f"  erased subject: {digest}" for digest in check.erased_subjects]
    lines += [f"  erased from the files since the snapshot: {digest}" for digest in check.retrain_needed]
    verdicts = []
    if check.erased_subjects:
        verdicts.append(f"RETRAIN: {len(check.erased_subjects)} subjects in the snapshot are in the deletion registry")
    if check.retrain_needed:
        verdicts.append(f"RETRAIN: {len(check.retrain_needed)} subjects were erased from the files after models "
                        "could be trained on them")
    if check.changed_files:
        verdicts.append(f"CHANGED: {len(check.changed_files)} files differ from the manifest")
    lines += verdicts or ["clean: no subject in the snapshot is erased and every file matches its manifest"]
    return "\n".join(lines)
