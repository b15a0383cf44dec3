"""Which warehouse a compile must support, and what the policies ask that it cannot do.

The generated files are the same for every target: each macro has a
`duckdb__`, a `postgres__`, a `spark__` and a `default__` body, so one
compiled project builds on DuckDB, PostgreSQL and Spark. The target only decides what a compile
refuses: a masking strategy the target cannot run (`Strategy.targets`) is a
compile error at its policy line, naming the strategy and the target,
instead of a dbt compiler error at build time. The target is `veil compile
--target`, else the `type` of the dbt profile's target (profiles.yml,
`DBT_TARGET`), else none (nothing refused; a model that cannot run on its
adapter stops the build).

All twelve strategies run on DuckDB and PostgreSQL: the reversible ones are
Python functions of the dbt-duckdb plugin on DuckDB and keyed `SECURITY
DEFINER` functions on PostgreSQL (`veil.postgres_reversible`). On Spark
`tokenize` is refused (its vault cannot be shared by Spark's workers); `fpe`
and `encrypt` are session functions (`veil.spark_functions`).

>>> from veil.strategies import STRATEGIES
>>> sorted(n for n, s in STRATEGIES.items() if not s.supports("postgres"))
[]
>>> sorted(n for n, s in STRATEGIES.items() if not s.supports("spark"))
['tokenize']
"""

from __future__ import annotations

from pathlib import Path

from veil.compile.plan import Action, ProjectPlan
from veil.errors import Problem, UsageError
from veil.policy.purposes import nearest
from veil.strategies import TARGETS, get_strategy

ADAPTER_TARGETS = {"duckdb": "duckdb", "postgres": "postgres", "spark": "spark"}   # dbt adapter type -> veil target


def profile_target(project_dir: str | Path) -> str | None:
    """The veil target of the dbt profile's target (`type: duckdb|postgres`), None if unknown or other."""
    from veil.project import Project, _render, read_yaml

    try:   # only the target's name and type are rendered: other settings may use dbt-only filters
        project = Project.load(project_dir)
        profile = read_yaml(project._profiles_path()).get(project.dbt_project.get("profile"))
        name = project.env.get("DBT_TARGET") or _render(profile.get("target", "dev"), project.env)
        adapter = _render(((profile.get("outputs") or {}).get(name) or {}).get("type"), project.env)
    except (UsageError, OSError, AttributeError):
        return None
    return ADAPTER_TARGETS.get(str(adapter).lower()) if adapter else None


def resolve_target(project_dir: str | Path, target: str | None) -> str | None:
    """`target` if given (validated), else the profile's."""
    if target is None:
        return profile_target(project_dir)
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    return target


def target_problems(plan: ProjectPlan, target: str) -> list[Problem]:
    """Every masked column whose strategy does not run on `target`, at its masking rule's line."""
    problems: dict[tuple[str, int | None, str], Problem] = {}
    for model in plan.models:
        table = model.table
        for decision in model.decisions:
            if decision.action is not Action.MASK or get_strategy(decision.strategy).supports(target):
                continue
            index = table.policy.columns.index(decision.column)
            rule_purpose = nearest(model.purpose, decision.column.data_handling.masking)
            line = table.line(("schema", index, "data_handling", "masking", rule_purpose, "strategy"))
            key = f"column {decision.name}"
            problems.setdefault((table.path, line, key), Problem(
                table.path, line, key,
                get_strategy(decision.strategy).unavailable_message(target)
                + f"; audience {model.audience} masks it for {model.purpose}"))
    return list(problems.values())
