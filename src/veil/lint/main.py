"""`veil lint` as a function: options in, report out, exit code back."""

from __future__ import annotations

from pathlib import Path

import click

from veil.compile.write import write_atomic
from veil.errors import UsageError
from veil.lint.config import load_lint_config
from veil.lint.findings import Severity
from veil.lint.formatters import format_result
from veil.lint.inputs import MANIFEST, dbt_models, sql_files
from veil.lint.run import make_linter, run_lint
from veil.project import Project


def _has_manifest(project_dir: Path) -> bool:
    """Whether dbt has written a manifest, wherever the project's `target-path` puts it."""
    try:
        return (Project.load(project_dir).target_dir / "manifest.json").is_file()
    except UsageError:
        return (project_dir / MANIFEST).is_file()


# dbt adapter type -> the sqlglot dialect its compiled SQL is written in
ADAPTER_DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "redshift": "redshift", "spark": "spark",
                    "databricks": "databricks", "snowflake": "snowflake", "bigquery": "bigquery", "trino": "trino"}


def profile_dialect(project_dir: Path) -> str | None:
    """The sqlglot dialect of the dbt profile target's adapter, or None (no profile, an unknown adapter)."""
    try:
        adapter = Project.load(project_dir).adapter
    except UsageError:
        return None
    return ADAPTER_DIALECTS.get(adapter.lower())


def lint_dialect(config_dialect: str, explicit: bool, option: str | None, dbt_mode: bool, project_dir: Path) -> str:
    """`--dialect`, else `[tool.veil.lint] dialect`, else (linting dbt models) the profile's adapter, else duckdb.

    >>> lint_dialect("duckdb", False, "spark", True, Path("/nonexistent"))
    'spark'
    >>> lint_dialect("duckdb", False, None, True, Path("/nonexistent"))
    'duckdb'
    """
    if option:
        return option
    if explicit or not dbt_mode:
        return config_dialect
    return profile_dialect(project_dir) or config_dialect


def lint_main(paths: tuple[Path, ...], project_dir: Path, *, purpose: str | None = None, dialect: str | None = None,
              fmt: str = "human", output: Path | None = None, jobs: int | None = None,
              dbt_mode: bool | None = None, color: bool = False) -> int:
    """Lint, print or write the report, and return the exit code (0 clean, 1 findings)."""
    config = load_lint_config(project_dir)
    if dbt_mode is None:
        dbt_mode = not paths and _has_manifest(project_dir)
    chosen = lint_dialect(config.dialect, "dialect" in config.model_fields_set, dialect, dbt_mode, project_dir)
    if chosen != config.dialect:
        config = config.model_copy(update={"dialect": chosen})
    linter = make_linter(project_dir, config, purpose)
    if purpose and not linter.knows_purpose(purpose):
        raise UsageError(f"--purpose {purpose!r} is not declared in policies/veil.yml")
    inputs = sql_files(paths, config.is_excluded)
    if dbt_mode:
        models, uncompiled = dbt_models(project_dir, config.is_excluded)
        inputs += models
        if uncompiled:
            click.echo(f"warning: {len(uncompiled)} models have no compiled SQL in the manifest and were "
                       f"not linted (run `dbt compile`): {', '.join(uncompiled)}", err=True)
    if not paths and not dbt_mode:
        raise UsageError("nothing to lint: name .sql files or folders, or run `dbt compile` and use --dbt")
    result = run_lint(inputs, linter, project_dir, jobs or config.jobs)
    report = format_result(result, fmt, color=color and fmt == "human")
    if output is not None:
        write_atomic(output, report if report.endswith("\n") else report + "\n")
    else:
        click.echo(report)
    return 1 if any(f.severity is Severity.ERROR for f in result.findings) else 0
