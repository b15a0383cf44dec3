"""Policies -> dbt models, macros and properties: `load -> validate -> plan -> render -> write`.

>>> import inspect; list(inspect.signature(compile_project).parameters)
['project_dir', 'check']
"""

from __future__ import annotations

from pathlib import Path

from veil.compile.naming import model_path
from veil.compile.plan import ProjectPlan, plan_project
from veil.compile.render_macros import render_macros
from veil.compile.render_model import render_model
from veil.compile.render_yml import render_model_yml
from veil.compile.write import WriteReport, sync_files
from veil.policy.load import load_policies


def render_project(plan: ProjectPlan) -> dict[str, str]:
    """Every generated file of a plan, by path relative to the project."""
    files = render_macros(plan.policies)
    for model in plan.models:
        files[model_path(model.audience, model.table.name)] = render_model(model, plan.policies)
        files[model_path(model.audience, model.table.name, ".yml")] = render_model_yml(model, plan.policies)
    return dict(sorted(files.items()))


def compile_project(project_dir: str | Path = ".", check: bool = False) -> tuple[ProjectPlan, WriteReport]:
    """Compile the project's policies; with `check`, only report stale files.

    Raises PolicyError before anything is written when any policy is wrong.
    """
    project_dir = Path(project_dir)
    plan = plan_project(load_policies(project_dir))
    files = render_project(plan)
    return plan, sync_files(project_dir, files, check=check)
