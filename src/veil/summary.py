"""`veil summary`: per audience, what each model keeps, masks and drops, and its rows.

>>> print(format_summary([AudienceSummary("analyst", "analytics", [
...     ModelSummary("analyst__users", 7, 3, 2, 1000, 990)])]))
audience analyst (purpose analytics): 1 tables
  analyst__users             kept  7  masked  3  dropped  2  rows     990 of    1000 (-10 excluded)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from veil.compile.plan import Action, ModelPlan, ProjectPlan


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kept: int
    masked: int
    dropped: int
    source_rows: int | None
    rows: int | None


@dataclass(frozen=True)
class AudienceSummary:
    audience: str
    purpose: str
    models: list[ModelSummary]


def _count(con: duckdb.DuckDBPyConnection | None, schema: str | None, table: str) -> int | None:
    if con is None:
        return None
    where = "table_name = ?" + (" AND table_schema = ?" if schema else "")
    params = [table] + ([schema] if schema else [])
    found = con.execute(f"SELECT table_schema FROM information_schema.tables WHERE {where} "
                        "ORDER BY table_schema LIMIT 1", params).fetchone()
    if found is None:
        return None
    return con.execute(f'SELECT count(*) FROM "{found[0]}"."{table}"').fetchone()[0]


def _model_summary(model: ModelPlan, con: duckdb.DuckDBPyConnection | None) -> ModelSummary:
    relation = model.table.relation
    source_schema = relation.args[0] if relation.kind == "source" else None
    return ModelSummary(
        name=model.name,
        kept=len(model.kept),
        masked=sum(d.action is Action.MASK for d in model.decisions),
        dropped=len(model.dropped),
        source_rows=_count(con, source_schema, relation.name),
        rows=_count(con, None, model.name),
    )


def summarize(plan: ProjectPlan, database: Path | None) -> list[AudienceSummary]:
    """Summaries per audience; row counts when the warehouse exists."""
    con = duckdb.connect(str(database), read_only=True) if database and database.is_file() else None
    try:
        return [
            AudienceSummary(audience, plan.policies.project.audiences[audience].purpose,
                            [_model_summary(m, con) for m in plan.for_audience(audience)])
            for audience in plan.policies.audience_names()
        ]
    finally:
        if con is not None:
            con.close()


def _rows(model: ModelSummary) -> str:
    if model.rows is None:
        return "rows: not built"
    if model.source_rows is None:
        return f"rows {model.rows:>7}"
    return f"rows {model.rows:>7} of {model.source_rows:>7} (-{model.source_rows - model.rows} excluded)"


def format_summary(summaries: list[AudienceSummary]) -> str:
    lines = []
    for summary in summaries:
        lines.append(f"audience {summary.audience} (purpose {summary.purpose}): {len(summary.models)} tables")
        for m in summary.models:
            lines.append(f"  {m.name:<26} kept {m.kept:>2}  masked {m.masked:>2}  dropped {m.dropped:>2}  {_rows(m)}")
    return "\n".join(lines)
