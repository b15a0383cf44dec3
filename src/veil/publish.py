"""`veil publish`: a standalone DuckDB file holding one audience's tables.

The file an analyst is given: the audience's built models, with exactly the
columns the policies allow, and nothing else (no raw tables, no views, no
macros, no key). The models are read from the project's warehouse, DuckDB
or PostgreSQL alike (`Warehouse.export_duckdb`); the output is a DuckDB file
either way. It is written beside its destination as `.<name>.<pid>.tmp`
(DuckDB adds `.tmp.wal`) and renamed into place, so a failed publish never
leaves a partial file.

The audit trail knows every file before it exists: a `publish` record with
status `started` names the output (`system`) and the temp files
(`detail.temp_files`, glob patterns) before anything is written, and one with
status `completed` follows the rename. A publish killed in between (SIGKILL:
no `finally` runs) leaves temp files holding the audience's rows; `veil erase`
finds them from the `started` record (see `veil.erasure.files`).

>>> sorted(started_detail(["/out/.a.duckdb.7.tmp"]))
['host', 'pid', 'run', 'temp_files']
"""

from __future__ import annotations

import glob
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from veil.compile.plan import ModelPlan, ProjectPlan
from veil.errors import UsageError

if TYPE_CHECKING:
    from veil.audit.trail import AuditTrail
    from veil.warehouse import Warehouse


@dataclass(frozen=True)
class PublishedTable:
    name: str
    columns: int
    rows: int


def started_detail(temp_files: list[str]) -> dict[str, Any]:
    """The detail of a `started` record of a command that writes files (publish, snapshot, access).

    `temp_files`: glob patterns of the temp files the run may leave when killed;
    `run` pairs the record with the one that ends the run (same `run` in its
    detail); `pid` and `host` tell `veil erase` whether the writer still runs.
    """
    return {"run": secrets.token_hex(8), "pid": os.getpid(), "host": socket.gethostname(),
            "temp_files": list(temp_files)}


def temp_path(out: Path, pid: int) -> Path:
    """Where a publish writes before renaming: `.<name>.<pid>.tmp` beside `out`.

    >>> temp_path(Path("/data/analyst.duckdb"), 42)
    PosixPath('/data/.analyst.duckdb.42.tmp')
    """
    return out.with_name(f".{out.name}.{pid}.tmp")


def copy_queries(models: list[ModelPlan], warehouse: Warehouse) -> dict[str, exp.Select]:
    """Per model, the SELECT of exactly its kept columns from where dbt built it; UsageError if one is not built.

    >>> import duckdb
    >>> from veil.warehouse import as_warehouse
    >>> copy_queries([], as_warehouse(duckdb.connect()))
    {}
    """
    located = {m.name: warehouse.locate(f"ref('{m.name}')") for m in models}
    missing = [name for name, table in located.items() if not warehouse.exists(table)]
    if missing:
        raise UsageError(f"not built in the warehouse: {', '.join(missing)}; run `veil compile` and `dbt build` first")
    return {m.name: exp.select(*[exp.column(exp.to_identifier(d.name)) for d in m.kept]).from_(
        located[m.name].expression) for m in models}


def audience_models(plan: ProjectPlan, audience: str) -> list[ModelPlan]:
    """The audience's models; UsageError naming the known audiences if unknown."""
    if audience not in plan.policies.project.audiences:
        known = ", ".join(plan.policies.audience_names()) or "none"
        raise UsageError(f"unknown audience {audience!r} (audiences in policies/veil.yml: {known})")
    return plan.for_audience(audience)


def publish(plan: ProjectPlan, audience: str, warehouse: Warehouse | Path, out: Path, *,
            trail: AuditTrail | None = None) -> list[PublishedTable]:
    """Copy the audience's models from `warehouse` (the seam, or a DuckDB file) into a new DuckDB file at `out`.

    The trail (default: the one the environment names) gets `started` before
    the temp file exists and `completed` after the rename; `system` is the
    absolute path of `out`.
    """
    from veil.audit.trail import audit_trail
    from veil.warehouse import DuckDBWarehouse

    models = audience_models(plan, audience)
    if isinstance(warehouse, (str, Path)):
        if not Path(warehouse).is_file():
            raise UsageError(f"warehouse {warehouse} not found: run `dbt build` first")
        opened = DuckDBWarehouse(Path(warehouse), None, read_only=True)
        try:
            return publish(plan, audience, opened, out, trail=trail)
        finally:
            opened.close()
    queries = copy_queries(models, warehouse)
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(out, os.getpid())
    trail = trail or audit_trail()
    started = started_detail([glob.escape(str(temp)), glob.escape(str(temp)) + ".*"])
    trail.append("publish", system=trail.relative(out), method="copy", status="started",
                 detail={"audience": audience, **started})
    temp.unlink(missing_ok=True)
    try:
        rows = warehouse.export_duckdb(queries, temp)
        published = [PublishedTable(m.name, len(m.kept), rows[m.name]) for m in models]
        os.replace(temp, out)
        trail.append("publish", system=trail.relative(out), method="copy", rows=sum(t.rows for t in published),
                     status="completed", detail={"audience": audience, "run": started["run"],
                                                 "tables": [t.name for t in published]})
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return published
