"""`dbt build` on dbt-spark `method: session` through veil.dbt_spark: models call veil's keyed functions.

A throwaway project (a parquet seed, a hand-written table model calling
`veil_hmac_sha256`) is built in this process on the shared test session;
the pseudonyms equal DuckDB's for the same key, and no model can read
VEIL_KEY from the environment (dbt's `env_var`, Spark's `reflect`).
"""

from __future__ import annotations

import os
import uuid

import duckdb
import pytest

from helpers import TEST_KEY_HEX
from veil.dbt_spark import run_dbt
from veil.errors import UsageError
from veil.hmac_sql import register_hmac

KEY = bytes.fromhex(TEST_KEY_HEX)
USERS = [(1, "Alice@Example.com"), (2, "bob@example.org"), (3, "zoë@exämple.de"), (4, None)]

PROFILE = """\
spike:
  target: dev
  outputs:
    dev: {{type: spark, method: session, host: NA, schema: {schema}, threads: 1}}
    duck: {{type: duckdb, path: w.duckdb}}
"""


def write_project(root, schema: str) -> None:
    (root / "seeds").mkdir()
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: spike\nversion: '1.0'\nprofile: spike\n"
        "seeds:\n  +file_format: parquet\nmodels:\n  +file_format: parquet\n  +materialized: table\n")
    (root / "profiles.yml").write_text(PROFILE.format(schema=schema))
    (root / "seeds" / "users.csv").write_text(
        "id,email\n" + "".join(f"{i},{'' if e is None else e}\n" for i, e in USERS), encoding="utf-8")
    (root / "models" / "masked_users.sql").write_text(
        "select id, veil_hmac_sha256(email) as email_h,\n"
        "       substring(veil_hmac_sha256(cast(id as string)), 1, 32) as id_h\n"
        "from {{ ref('users') }}\n")
    (root / "models" / "env_probe.sql").write_text(   # what a model could learn of VEIL_KEY
        "select reflect('java.lang.System', 'getenv', 'VEIL_KEY') as jvm_env,\n"
        "       '{{ env_var(\"VEIL_KEY\", \"unset\") }}' as dbt_env\n")


@pytest.mark.spark
def test_dbt_build_runs_models_on_the_session_with_the_functions(spark, tmp_path, monkeypatch):
    schema = f"veil_build_{uuid.uuid4().hex[:8]}"
    write_project(tmp_path, schema)
    monkeypatch.setenv("VEIL_KEY", TEST_KEY_HEX)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    ansi = spark.conf.get("spark.sql.ansi.enabled")   # dbt-spark turns ANSI off on the session it uses
    try:
        result = run_dbt(["build", "--profiles-dir", str(tmp_path)], project_dir=tmp_path, session=spark)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
    assert result.success, result.exception or [str(r.message) for r in result.result or []]

    rows = spark.sql(f"SELECT id, email_h, id_h FROM {schema}.masked_users ORDER BY id").collect()
    seeded = [tuple(row) for row in spark.sql(f"SELECT id, email FROM {schema}.users ORDER BY id").collect()]
    assert [e for _, e in seeded[:3]] == [e for _, e in USERS[:3]]   # dbt-spark seeds an empty cell as ''
    with duckdb.connect() as con:
        register_hmac(con, KEY)
        expected = con.execute("SELECT id, veil_hmac_sha256(email), substring(veil_hmac_sha256(id), 1, 32) "
                               "FROM (VALUES " + ", ".join(f"({i}, ?)" for i, _ in seeded) + ") AS t(id, email) "
                               "ORDER BY id", [e for _, e in seeded]).fetchall()
    assert [tuple(row) for row in rows] == expected
    provider = {row.col_name: row.data_type for row in spark.sql(f"DESCRIBE EXTENDED {schema}.masked_users").collect()}
    assert provider["Provider"] == "parquet"
    (probe,) = spark.sql(f"SELECT jvm_env, dbt_env FROM {schema}.env_probe").collect()
    assert probe.jvm_env in (None, "null") and probe.dbt_env == "unset"
    assert os.environ["VEIL_KEY"] == TEST_KEY_HEX   # put back after the run


def test_a_target_that_is_not_spark_session_is_refused(tmp_path):
    write_project(tmp_path, "unused")
    with pytest.raises(UsageError, match="method: session"):
        run_dbt(["build", "--target", "duck", "--profiles-dir", str(tmp_path)], project_dir=tmp_path)


def test_spark_connect_is_refused(tmp_path, monkeypatch):
    write_project(tmp_path, "unused")
    monkeypatch.setenv("SPARK_REMOTE", "sc://localhost")
    with pytest.raises(UsageError, match="Spark Connect"):
        run_dbt(["build", "--profiles-dir", str(tmp_path)], project_dir=tmp_path)


@pytest.mark.spark
def test_veil_dbt_builds_on_spark_in_its_own_process_and_returns_dbts_exit_code(tmp_path):
    """`veil dbt build` starts its own session (a second JVM, its own metastore), registers the functions, builds;
    a failing data test makes it exit 1, as dbt would."""
    import subprocess

    from dbt_runner import BIN

    root = tmp_path / "project"
    root.mkdir()
    write_project(root, "veil_cli")
    (root / "models" / "env_probe.sql").unlink()
    (root / "tests").mkdir()
    (root / "tests" / "no_user_4.sql").write_text("select * from {{ ref('masked_users') }} where id = 4\n")   # fails
    settings = {"spark.ui.enabled": "false", "spark.master": "local[1]",
                "spark.sql.warehouse.dir": str(tmp_path / "warehouse"),
                "spark.driver.extraJavaOptions": f"-Dderby.system.home={tmp_path / 'derby'}"}
    profile = (root / "profiles.yml").read_text().replace(
        "threads: 1}", "threads: 1, server_side_parameters: {" + ", ".join(f'"{k}": "{v}"' for k, v in
                                                                           settings.items()) + "}}", 1)
    (root / "profiles.yml").write_text(profile)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_", "SPARK_"))}
    env.update(VEIL_KEY=TEST_KEY_HEX, DBT_PROFILES_DIR=str(root), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    result = subprocess.run([str(BIN / "veil"), "dbt", "build", "--project-dir", str(root)], cwd=root, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "OK created sql table model veil_cli.masked_users" in output and "FAIL 1 no_user_4" in output
    assert "Traceback" not in result.stderr
    masked = [p for p in (tmp_path / "warehouse").rglob("*.parquet") if "masked_users" in str(p)]
    assert masked and not any(TEST_KEY_HEX.encode() in p.read_bytes() for p in masked)
