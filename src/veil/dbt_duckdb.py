"""The dbt-duckdb plugin that gives every connection veil's keyed functions.

In profiles.yml::

    outputs:
      dev:
        type: duckdb
        path: veil.duckdb
        plugins:
          - module: veil.dbt_duckdb
            config: {key_file: .veil/dev.key}   # optional: used when VEIL_KEY(_FILE) are unset
                                                # allow_file_access: true  lets models read files (and keys)

The key comes from VEIL_KEY or VEIL_KEY_FILE (see veil.keys). Without one,
the functions still exist and a model that uses them fails with a message
saying how to set a key. Temp objects live per connection, so the functions
are registered on the connection and again on every cursor dbt opens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from veil.duckdb_functions import register_functions
from veil.errors import VeilError
from veil.project import Project, state_env
from veil.keyring import KEYRING_ENV, load_keyring
from veil.keys import KEY_ENV, KEY_FILE_ENV


class Plugin(BasePlugin):
    """Registers veil's SQL functions on each connection and cursor: the keyed HMAC,
    the `veil_mask_*` masking functions and the reversible ones (fpe, tokenize, encrypt).

    Keys come from VEIL_KEYRING (or VEIL_KEY / VEIL_KEY_FILE, or the plugin's
    `key_file` setting, or the project's `.veil/keyring.json`), read once when dbt starts;
    the vault is the project's `.veil/vault.duckdb` unless VEIL_VAULT says otherwise.

    >>> import duckdb
    >>> plugin = Plugin("veil", {})
    >>> conn = duckdb.connect()
    >>> plugin.configure_connection(conn)
    >>> conn.execute("SELECT 1").fetchone()
    (1,)
    """

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        env: dict[str, str] = dict(os.environ)
        key_file = plugin_config.get("key_file")
        if key_file and not (env.get(KEY_ENV) or env.get(KEY_FILE_ENV) or env.get(KEYRING_ENV)):
            env[KEY_FILE_ENV] = str(key_file)
        # dbt runs from the project directory (it changes into it): state paths resolve against it
        project_dir = Path(plugin_config.get("project_dir") or env.get("DBT_PROJECT_DIR") or Path.cwd())
        self.env = state_env(project_dir.resolve(), env)
        env = self.env
        self.keyring = load_keyring(env)
        self.allow_file_access = bool(plugin_config.get("allow_file_access", False))
        self.seed_dirs = _seed_dirs(project_dir.resolve(), env)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_functions(conn, self.keyring, self.env)
        if self.keyring is not None and not self.allow_file_access:
            # With keys in this process, SQL must not read them from where they came: the keyring's
            # KEK file, VEIL_KEY_FILE, `/proc/self/environ` (VEIL_KEY). DuckDB cannot re-enable this
            # on the connection; projects whose models read files opt out (see README "Keys").
            if self.seed_dirs:   # `dbt seed` COPYs each seed's CSV: those folders stay readable
                conn.execute("SET allowed_directories = ?", [self.seed_dirs])
            conn.execute("SET enable_external_access = false")

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        register_functions(cursor, self.keyring, self.env)


def _seed_dirs(project_dir: Path, env: dict[str, str]) -> list[str]:
    """The project's seed folders (dbt_project.yml `seed-paths`), absolute, never veil's state folder."""
    try:
        settings = Project.load(project_dir, env).dbt_project
    except VeilError:
        return []
    state = (project_dir / ".veil").resolve()
    folders = []
    for folder in settings.get("seed-paths") or ["seeds"]:
        path = (project_dir / str(folder)).resolve()
        if path != state and state not in path.parents and path not in state.parents:
            folders.append(str(path) + os.sep)
    return folders
