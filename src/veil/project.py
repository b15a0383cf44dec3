"""The one `Project`: dbt_project.yml, the profile target, the manifest and veil's state directory.

Every operational command starts from a `Project`. It is read once, from the
project directory (never from the current directory), with one error path:
a file that is missing or malformed is a `UsageError` naming it (exit 2).

State lives in `<project>/.veil/` (keyring.json, master.key, vault.duckdb,
audit.duckdb, the erase lock). `VEIL_KEYRING`, `VEIL_VAULT`, `VEIL_AUDIT_DB`
and `VEIL_KEY_FILE` override it; relative values are resolved against the
project, so `veil erase --project-dir P` run from anywhere reads and writes
exactly what it does from inside P. `Project.env` is the environment with
those paths made absolute, for the building blocks that take an `env`.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> project = Project.load(root, env={"VEIL_VAULT": "state/v.duckdb"})
>>> project.vault_path == root.resolve() / "state/v.duckdb", project.audit_path.name
(True, 'audit.duckdb')
>>> project.env["VEIL_AUDIT_DB"] == str(root.resolve() / ".veil" / "audit.duckdb")
True
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from veil.errors import UsageError

STATE_DIR = ".veil"
KEYRING_ENV, VAULT_ENV, AUDIT_DB_ENV, KEY_ENV, KEY_FILE_ENV = (
    "VEIL_KEYRING", "VEIL_VAULT", "VEIL_AUDIT_DB", "VEIL_KEY", "VEIL_KEY_FILE")
STATE_FILES = {VAULT_ENV: "vault.duckdb", AUDIT_DB_ENV: "audit.duckdb"}


def state_env(root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`env` with veil's state paths absolute under `root` (defaults filled in).

    The keyring default (`<root>/.veil/keyring.json`) is used only when it
    exists and no single key (VEIL_KEY, VEIL_KEY_FILE) is given.

    >>> state_env(Path("/p"), {"VEIL_KEY_FILE": "k.key"})["VEIL_KEY_FILE"]
    '/p/k.key'
    >>> "VEIL_KEYRING" in state_env(Path("/p"), {})
    False
    """
    resolved = {k: v for k, v in env.items() if not (k.startswith("VEIL_") and v == "")}
    for name in (KEYRING_ENV, VAULT_ENV, AUDIT_DB_ENV, KEY_FILE_ENV):
        if resolved.get(name):
            resolved[name] = str(root / Path(resolved[name]).expanduser())
    for name, file_name in STATE_FILES.items():
        resolved.setdefault(name, str(root / STATE_DIR / file_name))
    default_ring = root / STATE_DIR / "keyring.json"
    if not any(resolved.get(n) for n in (KEYRING_ENV, KEY_ENV, KEY_FILE_ENV)) and default_ring.is_file():
        resolved[KEYRING_ENV] = str(default_ring)
    return resolved


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping, or a UsageError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping")
    return data


def _render(value: Any, env: Mapping[str, str]) -> Any:
    """Render `env_var()` in a profile value the way dbt does."""
    if not (isinstance(value, str) and "{{" in value):
        return value

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise UsageError(f"profiles.yml uses env_var('{name}') but {name} is not set")
        return default

    try:
        return jinja2.Environment().from_string(value).render(env_var=env_var)
    except jinja2.TemplateError as exc:
        raise UsageError(f"profiles.yml: cannot render {value!r}: {exc}") from None


@dataclass(frozen=True)
class Project:
    """A dbt project with veil policies, read once."""

    root: Path
    env: dict[str, str] = field(repr=False)
    database_override: Path | None = None

    @classmethod
    def load(cls, project_dir: str | Path = ".", env: Mapping[str, str] = os.environ,
             database: str | Path | None = None) -> Project:
        root = Path(project_dir).expanduser().resolve()
        if not root.is_dir():
            raise UsageError(f"project directory {project_dir} does not exist")
        override = None if database is None else (Path.cwd() / Path(database)).resolve()
        return cls(root, state_env(root, env), override)

    # -- veil's state

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def vault_path(self) -> Path:
        return Path(self.env[VAULT_ENV])

    @property
    def audit_path(self) -> Path:
        return Path(self.env[AUDIT_DB_ENV])

    @property
    def keyring_path(self) -> Path:
        """Where `veil keys init` writes: VEIL_KEYRING, else `<project>/.veil/keyring.json`."""
        return Path(self.env.get(KEYRING_ENV) or self.state_dir / "keyring.json")

    def keyring(self):
        """The keyring the project's environment selects, or None."""
        from veil.keyring import load_keyring

        return load_keyring(self.env)

    def trail(self):
        """The project's audit trail (created on first write), MACed with the project's keyring."""
        from veil.audit.trail import AuditTrail

        return AuditTrail(self.audit_path, keyring=self.keyring, env=self.env, project=self.root)

    # -- dbt

    @functools.cached_property
    def dbt_project(self) -> dict[str, Any]:
        path = self.root / "dbt_project.yml"
        if not path.is_file():
            raise UsageError(f"{self.root} is not a dbt project: no dbt_project.yml")
        return read_yaml(path)

    @property
    def target_dir(self) -> Path:
        settings = self.dbt_project if (self.root / "dbt_project.yml").is_file() else {}
        target = self.env.get("DBT_TARGET_PATH") or settings.get("target-path") or "target"
        return self.root / str(target)

    @functools.cached_property
    def manifest(self) -> dict[str, Any] | None:
        """`target/manifest.json` as dbt last wrote it, or None when dbt has not run."""
        path = self.target_dir / "manifest.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read the dbt manifest: {exc}; run `dbt build` again") from None

    def compiled_sql(self, node: dict[str, Any]) -> str | None:
        """A model's compiled SQL: from the manifest, else the file dbt compiled it to.

        A `dbt seed --select x` writes a manifest without compiled SQL for the
        models it did not run; `target/compiled/` still holds what the last
        build compiled.
        """
        if node.get("compiled_code"):
            return node["compiled_code"]
        candidates = [self.target_dir / "compiled" / str(node.get("package_name", "")) /
                      str(node.get("original_file_path", ""))]
        if node.get("compiled_path"):
            candidates.insert(0, self.root / node["compiled_path"])
        for path in candidates:
            if path.is_file() and path.suffix == ".sql":
                return path.read_text(encoding="utf-8")
        return None

    def _profiles_path(self) -> Path:
        candidates = [self.root / "profiles.yml"]
        if self.env.get("DBT_PROFILES_DIR"):
            candidates.insert(0, Path(self.env["DBT_PROFILES_DIR"]) / "profiles.yml")
        candidates.append(Path.home() / ".dbt" / "profiles.yml")
        for path in candidates:
            if path.is_file():
                return path
        raise UsageError(f"no profiles.yml found for {self.root} (looked in {', '.join(map(str, candidates))})")

    @functools.cached_property
    def _raw_target(self) -> dict[str, Any]:
        profiles = read_yaml(self._profiles_path())
        name = self.dbt_project.get("profile")
        profile = profiles.get(name)
        if not isinstance(profile, dict):
            raise UsageError(f"profile {name!r} not found in profiles.yml")
        target_name = self.env.get("DBT_TARGET") or _render(profile.get("target", "dev"), self.env)
        target = (profile.get("outputs") or {}).get(target_name)
        if not isinstance(target, dict):
            raise UsageError(f"target {target_name!r} not found in profile {name!r}")
        return target

    @functools.cached_property
    def target(self) -> dict[str, Any]:
        """The dbt profile target's settings, `env_var()` rendered."""
        return {key: _render(value, self.env) for key, value in self._raw_target.items()}

    @property
    def adapter(self) -> str:
        """The dbt target's adapter `type`, read without rendering its other settings (a CI
        job that lints has no warehouse password to render)."""
        return str(_render(self._raw_target.get("type", "duckdb"), self.env))

    @property
    def database(self) -> Path:
        """The DuckDB warehouse file: `--database`, else the dbt target's `path`.

        Only what needs a DuckDB file asks for it (`veil snapshot`, `keys
        reencrypt`, `classify`); the operational commands go through
        `warehouse()`, which also reaches a postgres target.
        """
        if self.database_override is not None:
            return self.database_override
        target = self.target
        if target.get("type") != "duckdb":
            raise UsageError(f"the dbt target is {target.get('type')!r}, not DuckDB: this command needs a DuckDB "
                             "file; pass --database FILE")
        path = Path(str(target.get("path", ":memory:")))
        if str(path) == ":memory:":
            raise UsageError("the DuckDB target is in memory; pass --database FILE")
        return path if path.is_absolute() else self.root / path

    # -- policies

    @functools.cached_property
    def policies(self):
        from veil.policy.load import load_policies

        return load_policies(self.root)

    @functools.cached_property
    def plan(self):
        from veil.compile.plan import plan_project

        return plan_project(self.policies)

    def warehouse(self, read_only: bool = False, missing_ok: bool = False):
        """The warehouse seam for this project (a context manager; see `veil.warehouse`).

        `missing_ok`: yields None for a DuckDB file that is not built yet.
        """
        from veil.warehouse import open_warehouse

        return open_warehouse(self, read_only=read_only, missing_ok=missing_ok)
