"""Find the DuckDB file a dbt project builds into, the way dbt would.

Reads `dbt_project.yml` for the profile name and `profiles.yml` (project dir,
then `DBT_PROFILES_DIR`, then `~/.dbt`) for the target's `path`, rendering
`env_var()` like dbt does. Relative paths are relative to the project dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2
import yaml

from veil.errors import UsageError


def _env_var(name: str, default: str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is None:
        raise UsageError(f"profiles.yml uses env_var('{name}') but {name} is not set")
    return default


def _render(value: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        return jinja2.Environment().from_string(value).render(env_var=_env_var)
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping")
    return data


def _profiles_path(project_dir: Path) -> Path:
    candidates = [project_dir / "profiles.yml"]
    if os.environ.get("DBT_PROFILES_DIR"):
        candidates.insert(0, Path(os.environ["DBT_PROFILES_DIR"]) / "profiles.yml")
    candidates.append(Path.home() / ".dbt" / "profiles.yml")
    for path in candidates:
        if path.is_file():
            return path
    raise UsageError(f"no profiles.yml found for {project_dir} (looked in {', '.join(map(str, candidates))})")


def resolve_database(project_dir: str | Path, database: str | Path | None = None) -> Path:
    """The warehouse file: `database` if given, else the dbt target's `path`.

    >>> resolve_database(".", "warehouse.duckdb").name
    'warehouse.duckdb'
    """
    project_dir = Path(project_dir)
    if database is not None:
        return Path(database)
    project = _read_yaml(project_dir / "dbt_project.yml")
    profiles = _read_yaml(_profiles_path(project_dir))
    profile = profiles.get(project.get("profile"))
    if not isinstance(profile, dict):
        raise UsageError(f"profile {project.get('profile')!r} not found in profiles.yml")
    target_name = os.environ.get("DBT_TARGET") or _render(profile.get("target", "dev"))
    target = (profile.get("outputs") or {}).get(target_name)
    if not isinstance(target, dict) or target.get("type") != "duckdb":
        raise UsageError(f"target {target_name!r} is not a DuckDB target; pass --database FILE")
    path = Path(str(_render(target.get("path", ":memory:"))))
    if str(path) == ":memory:":
        raise UsageError("the DuckDB target is in memory; pass --database FILE")
    return path if path.is_absolute() else project_dir / path
