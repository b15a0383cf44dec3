"""Checks on a plan: valid policies that still cannot compile to something safe."""

from __future__ import annotations

from veil.compile.plan import ProjectPlan
from veil.errors import CompileError, Problem
from veil.policy.models import ConsentMode
from veil.policy.yaml_lines import line_of


def consent_problems(plan: ProjectPlan) -> list[Problem]:
    """An audience that needs consent but reads a subject table with no consent relation."""
    policies = plan.policies
    project = policies.project
    if project.consent is not None:
        return []
    problems = []
    for audience in policies.audience_names():
        purpose = project.audiences[audience].purpose
        mode = project.consent_mode(purpose)
        subject_tables = [m.table.name for m in plan.for_audience(audience) if m.table.policy.subject]
        if mode is not ConsentMode.NONE and subject_tables:
            problems.append(Problem(
                policies.project_file, line_of(policies.project_doc, ("audiences", audience, "purpose")),
                f"audiences.{audience}.purpose",
                f"purpose {purpose!r} needs consent ({mode.value}) and audience {audience!r} reads subject "
                f"tables ({', '.join(subject_tables)}), but no `consent:` relation is configured; add one, "
                f"or set `consent: none` on the purpose if it has another legal basis"))
    return problems


def check_plan(plan: ProjectPlan) -> None:
    """Raise CompileError listing every problem of the plan."""
    problems = consent_problems(plan)
    if problems:
        raise CompileError(problems)
