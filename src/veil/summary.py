"""`veil summary`: per audience, what each model keeps, masks and drops, its rows,
and how many source rows each filter excluded (erasure, consent, retention).

The losses are counted on the source with the very predicates the models use
(rendered from the generated macros, with the warehouse's `adapter.dispatch`
bodies: `postgres__` on PostgreSQL), each counted after the ones before it.

>>> print(format_summary([AudienceSummary("analyst", "analytics", [
...     ModelSummary("analyst__users", 7, 3, 2, 990, 1000, {"erasure": 4, "consent": 6})])]))
audience analyst (purpose analytics): 1 tables
  analyst__users            kept  7 masked  3 dropped  2 | rows     990 of    1000 | lost: erasure 4, consent 6
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from veil.compile import render_project
from veil.compile.offline import render_offline
from veil.compile.plan import Action, ModelPlan, ProjectPlan
from veil.compile.render_model import SOURCE_ALIAS, row_filters
from veil.compile import sql


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kept: int
    masked: int
    dropped: int
    rows: int | None
    source_rows: int | None
    lost: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AudienceSummary:
    audience: str
    purpose: str
    models: list[ModelSummary]


def loss_query(model: ModelPlan, plan: ProjectPlan, dialect: str = "duckdb") -> exp.Select:
    """Source rows, then rows lost to each filter in turn (as dbt SQL with Jinja)."""
    columns = [exp.alias_(exp.Count(this=exp.Star()), "source_rows")]
    passed: list[exp.Expression] = []
    for kind, predicate in row_filters(model, plan.policies, dialect):
        fails = exp.Not(this=exp.Coalesce(this=exp.Paren(this=predicate), expressions=[exp.false()]))
        condition = sql.conjunction([*passed, fails])
        columns.append(sql.count_where(condition, kind))
        passed.append(exp.Paren(this=predicate.copy()))
    return exp.select(*columns).from_(sql.relation_table(model.table.relation.jinja, SOURCE_ALIAS))


def _model_summary(model: ModelPlan, plan: ProjectPlan, warehouse, macros, variables) -> ModelSummary:
    from veil.warehouse import StatementError

    masked = sum(d.action is Action.MASK for d in model.decisions)
    base = dict(name=model.name, kept=len(model.kept), masked=masked, dropped=len(model.dropped))
    if warehouse is None:
        return ModelSummary(**base, rows=None, source_rows=None)
    built = warehouse.locate(f"ref({model.name!r})")
    try:
        rows = warehouse.execute(exp.select(exp.Count(this=exp.Star())).from_(built.expression))[0][0]
    except StatementError:   # not built
        rows = None
    query = loss_query(model, plan, warehouse.dialect)
    kinds = [e.alias_or_name for e in query.expressions]
    try:
        text = render_offline(query.sql(dialect=warehouse.dialect), macros, dialect=warehouse.dialect,
                              variables=variables, relation_name=lambda r: warehouse.locate(r).sql_name)
        values = dict(zip(kinds, warehouse.execute(text)[0]))
    except StatementError:
        return ModelSummary(**base, rows=rows, source_rows=None)
    source_rows = values.pop("source_rows")
    return ModelSummary(**base, rows=rows, source_rows=source_rows, lost={k: int(v or 0) for k, v in values.items()})


def summarize(plan: ProjectPlan, project_dir: Path, database: Path | None = None, as_of: str | None = None, *,
              warehouse=None) -> list[AudienceSummary]:
    """Summaries per audience; rows and losses when there is a warehouse.

    `warehouse`: the seam (either engine); else the DuckDB file `database`, if it exists.
    """
    if warehouse is None and database is not None and Path(database).is_file():
        from veil.project import Project

        with Project.load(project_dir, env={}, database=database).warehouse(read_only=True) as opened:
            return summarize(plan, project_dir, as_of=as_of, warehouse=opened)
    macros = {p: t for p, t in render_project(plan).items() if p.startswith("macros/")}
    variables = {"veil_as_of": as_of} if as_of else {}
    return [
        AudienceSummary(audience, plan.policies.project.audiences[audience].purpose,
                        [_model_summary(m, plan, warehouse, macros, variables)
                         for m in plan.for_audience(audience)])
        for audience in plan.policies.audience_names()
    ]


def _rows(model: ModelSummary) -> str:
    if model.rows is None:
        return "rows: not built"
    text = f"rows {model.rows:>7}"
    if model.source_rows is not None:
        text += f" of {model.source_rows:>7}"
    if model.lost:
        text += " | lost: " + ", ".join(f"{kind} {n}" for kind, n in model.lost.items())
    return text


def format_summary(summaries: list[AudienceSummary]) -> str:
    lines = []
    for summary in summaries:
        lines.append(f"audience {summary.audience} (purpose {summary.purpose}): {len(summary.models)} tables")
        for m in summary.models:
            lines.append(f"  {m.name:<25} kept {m.kept:>2} masked {m.masked:>2} dropped {m.dropped:>2} | {_rows(m)}")
    return "\n".join(lines)
