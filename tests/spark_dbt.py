"""dbt in this process on the shared test session (`veil.dbt_spark.run_dbt`), with a project's environment.

dbt reads `os.environ` (`env_var`, `DBT_PROFILES_DIR`), so `env` is put there for
the run, in place of the shell's VEIL_* and DBT_* variables, and taken back afterwards; dbt-spark turns ANSI mode off on the session
it uses, which is put back too (other tests share the session).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence


def dbt_on_spark(args: Sequence[str], project, env: Mapping[str, str], spark):
    """The dbtRunnerResult of `dbt <args>` on `spark`."""
    from veil.dbt_spark import run_dbt

    # the project's own veil/dbt settings only: not the shell's (`make test` exports VEIL_KEYRING)
    saved = {k: os.environ.get(k) for k in {*env, *(k for k in os.environ if k.startswith(("VEIL_", "DBT_")))}}
    for key in saved:
        os.environ.pop(key, None)
    os.environ.update(env)
    ansi = spark.conf.get("spark.sql.ansi.enabled")
    try:
        return run_dbt(list(args), project_dir=project, env=dict(os.environ), session=spark)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def outcomes(result) -> dict[str, str]:
    """Node name -> status ('success', 'pass', 'fail', 'error', ...) of a dbt run."""
    return {r.node.name: str(r.status) for r in result.result or []}
