"""Run dbt and veil as a user would: subprocesses in a project directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import TEST_KEY_HEX

BIN = Path(sys.executable).parent


def env_for(project: Path, warehouse: Path, key: str | None = TEST_KEY_HEX) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_"))}
    env.update(VEIL_WAREHOUSE=str(warehouse), DBT_PROFILES_DIR=str(project),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(project / "logs"))
    if key:
        env["VEIL_KEY"] = key
    return env


def run(tool: str, args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`dbt ...` or `veil ...` in `project`; output captured as text."""
    return subprocess.run([str(BIN / tool), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600)
