"""Erase subjects from one snapshot version: its Parquet files rewritten without their rows.

What "erased" means for a snapshot version:

- no row of its Parquet files has a subject column whose text (`CAST AS
  VARCHAR`, exact) is an erased id: each file holding such rows is rewritten
  without them (sorted as `veil snapshot` sorts, written to `.<file>.rewrite`
  and renamed over the old file); every other row stays;
- the manifest describes the new files (SHA-256, rows, content hash); its
  `subjects` (who is in the files) no longer lists the erased subjects'
  digests and `retrain_needed` does: models trained on the version learned
  from them, so `veil snapshot --check` still says RETRAIN (exit 1);
- the audit trail gets a `snapshot` record with status `erased` (the new
  manifest's SHA-256, the files' hashes, the digests moved), written before
  the files are renamed into place: the check tells this rewrite from
  tampering, and a run killed half-way is finished by the next one.

Tables whose subject is not kept raw (`untraced_tables`) hold no id to match
and are left as they are. A file or manifest that had changed before (not by
veil) is still rewritten, but not made legitimate: the manifest keeps the
file's old hash and the record lists it in `changed_before`, so the check
keeps reporting it.

>>> rewrite_path(Path("/snapshots/ml-20260301T120000Z/ml__users.parquet"))
PosixPath('/snapshots/ml-20260301T120000Z/.ml__users.parquet.rewrite')
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from veil.audit.trail import AuditRecord, AuditTrail
from veil.errors import VeilError
from veil.snapshot.check import read_manifest, version_records
from veil.snapshot.create import MANIFEST, content_hash, file_sha256, manifest_text, sorted_copy, utc_now
from veil.snapshot.registry import subject_digest

ERASED_FORMAT_VERSION = 2
REWRITE_SUFFIX = ".rewrite"


def rewrite_path(path: Path) -> Path:
    """Where the new version of `path` is written before it replaces it: `.<name>.rewrite`."""
    return path.with_name(f".{path.name}{REWRITE_SUFFIX}")


def _parquet(path: Path) -> exp.Expression:
    return exp.func("read_parquet", exp.Literal.string(path.as_posix()))


def _subject_text(column: str) -> exp.Expression:
    return exp.cast(exp.column(exp.to_identifier(column, quoted=True)), exp.DataType.Type.VARCHAR)


def _is_erased(column: str) -> exp.Expression:
    """`CAST(column AS VARCHAR) IN (SELECT UNNEST($subjects))`."""
    return _subject_text(column).isin(query=exp.select(exp.func("unnest", exp.Placeholder(this="subjects"))))


def subject_rows(con: duckdb.DuckDBPyConnection, path: Path, column: str, subjects: list[str]) -> dict[str, int]:
    """Rows per subject in one Parquet file."""
    query = (exp.select(_subject_text(column), exp.Count(this=exp.Star())).from_(_parquet(path))
             .where(_is_erased(column)).group_by(_subject_text(column)))
    try:
        return dict(con.execute(query.sql(dialect="duckdb"), {"subjects": subjects}).fetchall())
    except duckdb.Error as exc:
        raise VeilError(f"{path}: cannot be searched for erased subjects: {str(exc).splitlines()[0]}") from None


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path, column: str, subjects: list[str]) -> Path:
    """Write `path` without the subjects' rows to its rewrite path; that path."""
    target = rewrite_path(path)
    target.unlink(missing_ok=True)
    columns = [d[0] for d in con.execute(exp.select("*").from_(_parquet(path)).limit(0).sql(dialect="duckdb"))
               .description]
    subject = exp.column(exp.to_identifier(column, quoted=True))
    keep = exp.or_(subject.is_(exp.null()), exp.not_(_is_erased(column)))
    con.execute(sorted_copy(_parquet(path), columns, target, keep), {"subjects": subjects})
    return target


def _row_count(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    query = exp.select(exp.Count(this=exp.Star())).from_(_parquet(path))
    return con.execute(query.sql(dialect="duckdb")).fetchall()[0][0]


def _merge(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in counts:
        for who, rows in part.items():
            total[who] = total.get(who, 0) + rows
    return total


def explained_hashes(folder: Path, manifest: Mapping[str, Any],
                     records: list[AuditRecord]) -> tuple[dict[str, str], list[str]]:
    """Per file, the hash the manifest may say now; and the files (and manifest) changed by someone else.

    A file is veil's if its hash is the manifest's, or the one the latest
    `erased` record wrote (a run killed before its renames finished); else
    the manifest keeps its old hash, so the change stays visible.
    """
    latest = records[-1] if records else None
    written = latest.details.get("files", {}) if latest and latest.status == "erased" else {}
    hashes, changed = {}, []
    for table in manifest["tables"]:
        path = folder / table["file"]
        now = file_sha256(path) if path.is_file() else None
        if now is not None and now in {table["sha256"], written.get(table["file"])}:
            hashes[table["file"]] = now
        else:
            hashes[table["file"]] = table["sha256"]
            changed.append(table["file"])
    if latest is not None:
        known = {latest.details.get("manifest_sha256"), latest.details.get("previous_manifest_sha256")}
        if file_sha256(folder / MANIFEST) not in known:
            changed.append(MANIFEST)
    return hashes, changed


def updated_manifest(manifest: Mapping[str, Any], hashes: Mapping[str, str], rows: Mapping[str, int],
                     retrain: set[str], erased_at: datetime) -> dict[str, Any]:
    """The manifest after an erasure: new hashes and rows, the erased digests moved to `retrain_needed`.

    >>> old = {"format_version": 1, "content_hash": "c0", "subjects": ["a", "b"],
    ...        "tables": [{"model": "m", "file": "m.parquet", "sha256": "s0", "rows": 3}]}
    >>> new = updated_manifest(old, {"m.parquet": "s1"}, {"m.parquet": 2}, {"b"}, datetime(2026, 3, 2))
    >>> new["subjects"], new["retrain_needed"], new["tables"][0]["rows"], new["format_version"]
    (['a'], ['b'], 2, 2)
    >>> new["erasures"]
    [{'erased_at': '2026-03-02T00:00:00Z', 'previous_content_hash': 'c0', 'rows_removed': {'m': 1}}]
    """
    tables = []
    for table in manifest["tables"]:
        entry = {**table, "sha256": hashes[table["file"]], "rows": rows.get(table["file"], table["rows"])}
        tables.append(entry)
    retrain = retrain | set(manifest.get("retrain_needed", []))
    erasure = {"erased_at": erased_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "previous_content_hash": manifest["content_hash"],
               "rows_removed": {t["model"]: t["rows"] - e["rows"] for t, e in zip(manifest["tables"], tables)
                                if t["rows"] != e["rows"]}}
    return {**manifest, "format_version": ERASED_FORMAT_VERSION, "tables": tables,
            "content_hash": content_hash({t["model"]: t["sha256"] for t in tables}),
            "subjects": sorted(set(manifest.get("subjects", [])) - retrain), "retrain_needed": sorted(retrain),
            "erasures": [*manifest.get("erasures", []), erasure]}


def _replace(temp: Path, path: Path) -> None:
    """Rename `temp` over `path`, with `path`'s mode."""
    if path.exists():
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
    os.replace(temp, path)


def erase_version(version_dir: Path, subjects: list[str], apply: bool, *, key: bytes | None, trail: AuditTrail,
                  clock: Callable[[], datetime] = utc_now) -> dict[str, int]:
    """Rows per subject in the version's files; with `apply`, erase them as the module says.

    `key` is veil's hmac key (the manifest's digests are keyed); needed only with `apply`.
    """
    folder = Path(version_dir)
    manifest = read_manifest(folder)
    if not subjects:
        return {}
    traced = {t["file"]: t["subject_column"] for t in manifest["tables"] if t.get("subject_column")}
    with duckdb.connect() as con:
        found = {name: subject_rows(con, folder / name, column, subjects) for name, column in traced.items()
                 if (folder / name).is_file()}
        counts = _merge(found.values())
        if not apply:
            return counts
        if key is None:
            raise VeilError(f"{folder}: erasing from a snapshot needs veil's hmac key "
                            "(its subjects are keyed digests)")
        records = version_records(trail, folder)
        recorded = {d for r in records if r.status == "erased" for d in r.details.get("retrain_needed", [])}
        moved = {subject_digest(s, key) for s in subjects} & set(manifest.get("subjects", []))
        hashes, changed = explained_hashes(folder, manifest, records)
        if not counts and not moved and all(hashes[t["file"]] == t["sha256"] for t in manifest["tables"]):
            return counts
        temps = {name: _rewrite(con, folder / name, traced[name], subjects) for name, rows in found.items() if rows}
        hashes.update({name: file_sha256(temp) for name, temp in temps.items() if name not in changed})
        rows = {t["file"]: _row_count(con, temps.get(t["file"], folder / t["file"])) for t in manifest["tables"]
                if t["file"] in temps or hashes[t["file"]] != t["sha256"]}
    new = updated_manifest(manifest, hashes, rows, moved | recorded, clock())
    manifest_temp = rewrite_path(folder / MANIFEST)
    manifest_temp.write_text(manifest_text(new), encoding="utf-8")
    trail.append("snapshot", system=trail.relative(folder), method="rewrite", rows=sum(counts.values()),
                 status="erased", detail={
                     "audience": manifest.get("audience"), "content_hash": new["content_hash"],
                     "previous_manifest_sha256": file_sha256(folder / MANIFEST),
                     "manifest_sha256": file_sha256(manifest_temp), "files": hashes,
                     "retrain_needed": sorted(moved), "changed_before": changed})
    for name, temp in temps.items():
        _replace(temp, folder / name)
    _replace(manifest_temp, folder / MANIFEST)
    return counts
