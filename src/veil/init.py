"""`veil init`: add a commented `policies/` skeleton to an existing dbt project."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from veil.compile.write import write_atomic
from veil.errors import UsageError

PLUGIN_LINE = "plugins: [{module: veil.dbt_duckdb}]"

NEXT_STEPS = f"""\
Next steps:
  1. In profiles.yml, under your DuckDB target, add this one line:
       {PLUGIN_LINE}
     It registers veil's keyed masking functions on every dbt connection.
  2. Set VEIL_KEY (64 hex chars) or VEIL_KEY_FILE for builds that use keyed
     strategies (hash, domain_only); `veil keys init` writes a development key.
  3. Write one policy per table in policies/tables/ (see example.yml.sample).
  4. veil compile && dbt build"""


def _template(name: str) -> str:
    return resources.files("veil.templates").joinpath(name).read_text(encoding="utf-8")


def init_project(project_dir: str | Path) -> list[Path]:
    """Create the skeleton; returns the files written. Never overwrites."""
    project_dir = Path(project_dir)
    if not (project_dir / "dbt_project.yml").is_file():
        raise UsageError(f"{project_dir}: no dbt_project.yml here; run `veil init` in a dbt project")
    project_file = project_dir / "policies" / "veil.yml"
    if project_file.exists():
        raise UsageError(f"{project_file} already exists; veil is initialised here")
    written = []
    for target, template in ((project_file, "init_veil.yml"),
                             (project_dir / "policies" / "tables" / "example.yml.sample", "init_example.yml.sample")):
        if not target.exists():
            write_atomic(target, _template(template))
            written.append(target)
    return written
