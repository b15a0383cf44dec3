"""Run the compiler stages over a project: render every file, then write or check them."""

from __future__ import annotations

from pathlib import Path

from veil.compile.checks import check_plan
from veil.compile.naming import CONSENT_MODEL, MACROS_DIR, MODELS_DIR, model_path
from veil.compile.plan import ProjectPlan, plan_project
from veil.compile.render_consent import (
    render_consent_macros,
    render_consent_model,
    render_consent_yml,
)
from veil.compile.render_macros import render_macros
from veil.compile.render_model import render_model
from veil.compile.render_retention import render_retention_macros
from veil.compile.render_yml import render_model_yml
from veil.compile.targets import resolve_target, target_problems
from veil.compile.write import WriteReport, sync_files
from veil.errors import CompileError
from veil.policy.load import load_policies


def render_project(plan: ProjectPlan) -> dict[str, str]:
    """Every generated file of a plan, by path relative to the project."""
    policies = plan.policies
    files = render_macros(policies)
    files[f"{MACROS_DIR}/veil_retention.sql"] = render_retention_macros(policies)
    consent = render_consent_macros(policies)
    if consent is not None:
        files[f"{MACROS_DIR}/veil_consent.sql"] = consent
        files[f"{MODELS_DIR}/{CONSENT_MODEL}.sql"] = render_consent_model(policies)
        files[f"{MODELS_DIR}/{CONSENT_MODEL}.yml"] = render_consent_yml(policies)
    for model in plan.models:
        files[model_path(model.audience, model.table.name)] = render_model(model, policies)
        files[model_path(model.audience, model.table.name, ".yml")] = render_model_yml(model, policies)
    return dict(sorted(files.items()))


def compile_project(project_dir: str | Path = ".", check: bool = False,
                    target: str | None = None) -> tuple[ProjectPlan, WriteReport]:
    """Compile the project's policies; with `check`, only report stale files.

    `target` (duckdb, postgres; default: the dbt profile's adapter type) is
    the warehouse whose support is required: a strategy it cannot run is a
    CompileError. The files written are the same for every target.
    Raises PolicyError or CompileError before anything is written when any
    policy is wrong.
    """
    project_dir = Path(project_dir)
    plan = plan_project(load_policies(project_dir))
    check_plan(plan)
    resolved = resolve_target(project_dir, target)
    if resolved is not None:
        problems = target_problems(plan, resolved)
        if problems:
            raise CompileError(problems)
    files = render_project(plan)
    return plan, sync_files(project_dir, files, check=check)
