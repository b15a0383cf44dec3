"""`veil publish`: a standalone DuckDB file holding one audience's tables.

The file an analyst is given: the audience's built models, with exactly the
columns the policies allow, and nothing else (no raw tables, no views, no
macros, no key). It is written beside its destination and renamed into
place, so a failed publish never leaves a partial file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from veil.compile.plan import ModelPlan, ProjectPlan
from veil.errors import UsageError
from veil.warehouse_tables import locate_models

ALIAS = "veil_warehouse"


@dataclass(frozen=True)
class PublishedTable:
    name: str
    columns: int
    rows: int


def _copy_statement(model: ModelPlan, schema: str) -> str:
    columns = [exp.column(exp.to_identifier(d.name)) for d in model.kept]
    source = exp.table_(exp.to_identifier(model.name), db=exp.to_identifier(schema),
                        catalog=exp.to_identifier(ALIAS))
    query = exp.select(*columns).from_(source)
    create = exp.Create(this=exp.to_table(model.name), kind="TABLE", expression=query)
    return create.sql(dialect="duckdb")


def audience_models(plan: ProjectPlan, audience: str) -> list[ModelPlan]:
    """The audience's models; UsageError naming the known audiences if unknown."""
    if audience not in plan.policies.project.audiences:
        known = ", ".join(plan.policies.audience_names()) or "none"
        raise UsageError(f"unknown audience {audience!r} (audiences in policies/veil.yml: {known})")
    return plan.for_audience(audience)


def publish(plan: ProjectPlan, audience: str, database: Path, out: Path) -> list[PublishedTable]:
    """Copy the audience's models from `database` into a new file at `out`."""
    models = audience_models(plan, audience)
    if not database.is_file():
        raise UsageError(f"warehouse {database} not found: run `dbt build` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    published = []
    try:
        with duckdb.connect(str(temp)) as con:
            con.execute(f"ATTACH '{database.as_posix()}' AS {ALIAS} (READ_ONLY)")
            schemas = locate_models(con, ALIAS, [m.name for m in models])
            for model in models:
                con.execute(_copy_statement(model, schemas[model.name]))
                rows = con.execute(f'SELECT count(*) FROM "{model.name}"').fetchall()[0][0]
                published.append(PublishedTable(model.name, len(model.kept), rows))
            con.execute(f"DETACH {ALIAS}")
            con.execute("CHECKPOINT")
        os.replace(temp, out)
        from veil.audit.trail import audit_trail

        audit_trail().append("publish", system=str(out), method="copy", rows=sum(t.rows for t in published),
                             status="created", detail={"audience": audience,
                                                       "tables": [t.name for t in published]})
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return published
