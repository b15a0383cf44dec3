"""Run the linter over many inputs, in this process or in `jobs` worker processes.

Workers each load the policies once (cheap) and lint a share of the files;
results come back in input order, so output is the same for any `jobs`.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.config import LintConfig
from veil.lint.derived import add_dbt_models
from veil.lint.engine import FileInput, Linter
from veil.lint.findings import Finding, LintResult
from veil.lint.inputs import read_manifest
from veil.policy.load import load_policies

_worker: Linter | None = None


def make_linter(project_dir: Path, config: LintConfig, purpose: str | None) -> Linter:
    """A linter over the project's policies, and its dbt models when a manifest exists.

    With a manifest, relations are also known by their physical names (see
    `PolicyCatalog`); without one (plain `.sql` files, no dbt project) by the
    names the policies give them.
    """
    manifest = read_manifest(project_dir)
    catalog = PolicyCatalog.build(plan_project(load_policies(project_dir)), manifest)
    add_dbt_models(catalog, manifest, config.dialect)
    return Linter(catalog, config, purpose)


def _init_worker(project_dir: Path, config: LintConfig, purpose: str | None) -> None:
    global _worker
    _worker = make_linter(project_dir, config, purpose)


def _lint_in_worker(item: FileInput) -> list[Finding]:
    assert _worker is not None
    return _worker.lint(item)


def run_lint(inputs: list[FileInput], linter: Linter, project_dir: Path, jobs: int = 1) -> LintResult:
    """Lint every input; `jobs` > 1 spreads files over worker processes."""
    if jobs > 1 and len(inputs) > 1:
        chunk = max(1, len(inputs) // (jobs * 4))
        with ProcessPoolExecutor(jobs, initializer=_init_worker,
                                 initargs=(project_dir, linter.config, linter.purpose)) as pool:
            per_file = list(pool.map(_lint_in_worker, inputs, chunksize=chunk))
    else:
        per_file = [linter.lint(item) for item in inputs]
    result = LintResult(files=[item.path for item in inputs], rules=linter.rule_infos)
    for item, findings in zip(inputs, per_file):
        result.findings += findings
        if findings:
            result.sources[item.path] = item.source_text or item.text
    return result
