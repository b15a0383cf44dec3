"""`veil snapshot --audience A --out DIR`: a versioned training dataset and its manifest.

One folder per version, `DIR/<audience>-<YYYYmmddTHHMMSSZ>/`, never
overwritten: one Parquet file per audience model (exactly its kept columns,
rows sorted by every column so the same data always gives the same bytes)
and `manifest.json`, which ties the files to the privacy state they reflect:
how each column was handled, the consent log's latest record, the deletion
registry's high-water mark and erased subjects, and the digests of every
subject in the tables. The folder is built in a hidden sibling and renamed
into place, so a reader never sees half a snapshot; then the audit trail
records it.

>>> content_hash({"ml__users": "ab", "ml__events": "cd"}) == content_hash({"ml__events": "cd", "ml__users": "ab"})
True
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from veil import __version__
from veil.audit import audit_trail
from veil.compile.plan import Action, ModelPlan, ProjectPlan
from veil.errors import UsageError
from veil.publish import audience_models, started_detail
from veil.relations import PhysicalRelations
from veil.snapshot.registry import (DIGEST_METHOD, digest_sql, keyed_connection, read_consent_as_of,
                                    read_erasure_registry)
from veil.warehouse_tables import locate_models

FORMAT = "veil.snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STAMP = "%Y%m%dT%H%M%SZ"
CLASH_WAIT_SECONDS = 2.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(table_hashes: Mapping[str, str]) -> str:
    """SHA-256 over the canonical JSON of {model: parquet sha256}: one hash for the whole dataset."""
    text = json.dumps(dict(table_hashes), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def _column(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def sorted_copy(source: exp.Expression, columns: list[str], target: Path,
                where: exp.Expression | None = None) -> str:
    """`COPY (SELECT columns FROM source [WHERE] ORDER BY every column) TO target` as zstd Parquet.

    Sorting by every column makes the same rows give the same bytes, wherever they are read from.

    >>> print(sorted_copy(exp.to_table("t"), ["a"], Path("/x.parquet")))
    COPY (SELECT "a" FROM t ORDER BY "a") TO '/x.parquet' WITH (FORMAT parquet, COMPRESSION zstd)
    """
    query = exp.select(*map(_column, columns)).from_(source)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*(exp.Ordered(this=_column(c), nulls_first=False) for c in columns))
    copy = exp.Copy(this=exp.Subquery(this=query), kind=False, files=[exp.Literal.string(target.as_posix())],
                    params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("parquet")),
                            exp.CopyParameter(this=exp.var("COMPRESSION"), expression=exp.var("zstd"))])
    return copy.sql(dialect="duckdb")


def _copy_statement(model: ModelPlan, schema: str, target: Path) -> str:
    source = exp.table_(exp.to_identifier(model.name, quoted=True), db=exp.to_identifier(schema, quoted=True))
    return sorted_copy(source, [d.name for d in model.kept], target)


def _column_types(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, model: str) -> dict[str, str]:
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
                       [catalog, schema, model]).fetchall()
    return {name.lower(): kind for name, kind in rows}


def subject_column(model: ModelPlan) -> str | None:
    """The model's subject column when it is kept raw (only then can its subjects be traced)."""
    decision = model.subject_decision
    return decision.name if decision is not None and decision.action is Action.RAW else None


def _columns(model: ModelPlan, types: Mapping[str, str]) -> list[dict[str, Any]]:
    columns = []
    for decision in model.kept:
        entry: dict[str, Any] = {"name": decision.name, "type": types.get(decision.name.lower()),
                                 "handling": "masked" if decision.action is Action.MASK else "raw",
                                 "strategy": decision.strategy}
        if decision.options:
            entry["options"] = dict(decision.options)
        columns.append(entry)
    return columns


def _write_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, model: ModelPlan,
                 folder: Path) -> tuple[dict[str, Any], set[str]]:
    """Write one model's Parquet file; its manifest entry and its subjects' digests."""
    path = folder / f"{model.name}.parquet"
    try:
        (rows,), = con.execute(_copy_statement(model, schema, path)).fetchall()
    except duckdb.BinderException as exc:
        raise UsageError(f"{model.name} in the warehouse does not match the policies "
                         f"({str(exc).splitlines()[0]}); run `veil compile` and `dbt build`") from None
    subject = subject_column(model)
    digests: set[str] = set()
    if subject is not None:
        query = (exp.select(digest_sql(_column(subject))).distinct()
                 .from_(exp.func("read_parquet", exp.Literal.string(path.as_posix())))
                 .where(_column(subject).is_(exp.null()).not_()))
        digests = {d for d, in con.execute(query.sql(dialect="duckdb")).fetchall()}
    entry = {"model": model.name, "table": model.table.name, "file": path.name, "rows": int(rows),
             "sha256": file_sha256(path), "subject_column": subject,
             "columns": _columns(model, _column_types(con, catalog, schema, model.name))}
    return entry, digests


def _read_warehouse(plan: ProjectPlan, models: list[ModelPlan], database: Path, relations: PhysicalRelations,
                    folder: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Every manifest field that comes from the warehouse, read in one transaction."""
    with keyed_connection(database, env) as con:
        (catalog,), = con.execute("SELECT current_database()").fetchall()
        schemas = locate_models(con, catalog, [m.name for m in models])
        con.execute("BEGIN TRANSACTION")
        tables, subjects = [], set()
        for model in models:
            entry, digests = _write_table(con, catalog, schemas[model.name], model, folder)
            tables.append(entry)
            subjects |= digests
        registry = read_erasure_registry(con, plan.policies, relations)
        consent_as_of = read_consent_as_of(con, plan.policies, relations)
        con.execute("COMMIT")
        (engine,), = con.execute("SELECT 'duckdb ' || version()").fetchall()
    return {"tables": tables, "subjects": sorted(subjects),
            "erasure_registry": registry.to_json() if registry else None,
            "consent_state_as_of": consent_as_of, "parquet_writer": engine}


def build_manifest(plan: ProjectPlan, audience: str, database: Path, read: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest, but for `created_at` (set when the folder gets its name)."""
    purpose = plan.policies.project.audiences[audience].purpose
    tables = sorted(read["tables"], key=lambda t: t["model"])
    untraced = sorted(m.name for m in plan.for_audience(audience)
                      if m.table.policy.subject and subject_column(m) is None)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "tool_version": __version__,
        "audience": audience, "purpose": purpose,
        "consent_mode": plan.policies.project.consent_mode(purpose).value,
        "created_at": None, "warehouse": str(database.resolve()), "parquet_writer": read["parquet_writer"],
        "tables": tables, "content_hash": content_hash({t["model"]: t["sha256"] for t in tables}),
        "consent_state_as_of": read["consent_state_as_of"], "erasure_registry": read["erasure_registry"],
        "subject_digest": DIGEST_METHOD, "subjects": read["subjects"], "untraced_tables": untraced,
    }


def _move_into_place(temp: Path, out_dir: Path, audience: str, manifest: dict[str, Any],
                     clock: Callable[[], datetime]) -> Path:
    """Name the version after the clock, write its manifest, rename it into place; never replace one.

    Two snapshots in the same second: the second waits for the next second.
    """
    deadline = time.monotonic() + CLASH_WAIT_SECONDS
    while True:
        now = clock().astimezone(timezone.utc)
        final = out_dir / f"{audience}-{now.strftime(STAMP)}"
        if not final.exists():
            manifest["created_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            (temp / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
            try:
                os.rename(temp, final)   # fails on a non-empty folder: an existing version is never replaced
                return final
            except OSError:
                if not final.exists():
                    raise
        if time.monotonic() > deadline:
            raise UsageError(f"snapshot {final} already exists")
        time.sleep(0.05)


def create_snapshot(plan: ProjectPlan, database: Path, audience: str, out_dir: Path, *,
                    relations: PhysicalRelations, env: Mapping[str, str] = os.environ,
                    clock: Callable[[], datetime] = utc_now) -> Path:
    """Write a new snapshot version of the audience's built models under `out_dir`; its folder.

    `relations` locates the consent and erasure relations (`PhysicalRelations.for_project`).
    The audit trail (`VEIL_AUDIT_DB` in `env`) gets a `snapshot` record `started`
    (system: `out_dir`; detail: the hidden temp folder) before anything is written, then
    one `created` (system: the version's absolute path). If that one cannot be written,
    the folder is removed again: no dataset leaves without its record.
    """
    models = audience_models(plan, audience)
    if not models:
        raise UsageError(f"audience {audience!r} has no models: every table drops all its columns")
    database = Path(database)
    if not database.is_file():
        raise UsageError(f"warehouse {database} not found: run `dbt build` first")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    temp = out_dir / f".{audience}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    trail = audit_trail(env)
    started = started_detail([glob.escape(str(temp.absolute()))])
    trail.append("snapshot", system=trail.relative(out_dir), method="parquet", status="started",
                 detail={"audience": audience, **started})
    temp.mkdir()
    try:
        manifest = build_manifest(plan, audience, database, _read_warehouse(plan, models, database, relations, temp, env))
        final = _move_into_place(temp, out_dir, audience, manifest, clock)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    try:
        trail.append("snapshot", system=trail.relative(final), method="parquet",
                     rows=sum(t["rows"] for t in manifest["tables"]), status="created",
                     detail={"audience": audience, "run": started["run"], "content_hash": manifest["content_hash"],
                             "manifest_sha256": file_sha256(final / MANIFEST),
                             "files": {t["file"]: t["sha256"] for t in manifest["tables"]}})
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise
    return final


def format_snapshot(folder: Path) -> str:
    """What `veil snapshot` prints: one line per table, then the version.

    >>> import json, tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "ml-20260101T000000Z"; folder.mkdir()
    >>> _ = (folder / MANIFEST).write_text(json.dumps({"audience": "ml", "content_hash": "ab" * 32,
    ...     "subjects": ["x"], "erasure_registry": None,
    ...     "tables": [{"file": "ml__users.parquet", "rows": 3, "columns": [{}, {}]}]}))
    >>> print(format_snapshot(folder).replace(str(folder), "DIR"))
      ml__users.parquet: 2 columns, 3 rows
    snapshot DIR: 1 tables, 3 rows, 1 subjects, content abababababab
    """
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    lines = [f"  {t['file']}: {len(t['columns'])} columns, {t['rows']} rows" for t in manifest["tables"]]
    registry = manifest.get("erasure_registry")
    erased = f", erasure registry at {registry['requests']} requests" if registry else ""
    lines.append(f"snapshot {folder}: {len(manifest['tables'])} tables, "
                 f"{sum(t['rows'] for t in manifest['tables'])} rows, {len(manifest['subjects'])} subjects"
                 f"{erased}, content {manifest['content_hash'][:12]}")
    return "\n".join(lines)
