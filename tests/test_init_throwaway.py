"""veil on any dbt project, on DuckDB, PostgreSQL and Spark: `veil init` + a policy + `veil compile` + `dbt build`.

On Spark, dbt runs in this process on the shared test session (`veil.dbt_spark.run_dbt`,
dbt-spark `method: session`, parquet tables): the session's Derby metastore belongs to it.
"""

from __future__ import annotations

import uuid

import duckdb
import pytest
import yaml
from dbt_runner import env_for, run
from helpers import load_fixture, write_files

pytestmark = pytest.mark.dbt


SPARK_PROFILE = """shop:
  target: dev
  outputs:
    dev: {{type: spark, method: session, host: NA, schema: {schema}, threads: 1}}
"""


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("spark", marks=pytest.mark.spark)])
def engine(request):
    """(engine, rows(sql) reading its warehouse, the profiles.yml to write or None); postgres: a database of its own,
    spark: a schema (database) of its own on the shared session."""
    if request.param == "duckdb":
        yield "duckdb", None, None
        return
    if request.param == "spark":
        spark = request.getfixturevalue("spark")
        schema = f"veil_throwaway_{uuid.uuid4().hex[:8]}"
        yield ("spark", lambda sql: [tuple(r) for r in spark.sql(sql.replace("shop.", f"{schema}.")).collect()],
               SPARK_PROFILE.format(schema=schema))
        spark.sql(f"DROP DATABASE IF EXISTS {schema} CASCADE")
        return
    from test_postgres_ops import create_database, drop_database, postgres_profile, rows

    pg_server = request.getfixturevalue("pg_server")
    dbname = create_database(pg_server, "veil_throwaway")
    yield "postgres", lambda sql: rows(pg_server, dbname, sql), postgres_profile("shop", pg_server, dbname, "shop")
    drop_database(pg_server, dbname)


def _analyst_customers(name, read, warehouse):
    """(column names, rows) of the built analyst__customers."""
    query = "SELECT customer_id, email, country FROM analyst__customers ORDER BY 1"
    if name == "duckdb":
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return [c[0] for c in con.execute("DESCRIBE analyst__customers").fetchall()], con.execute(query).fetchall()
    if name == "spark":
        columns = [(r[0],) for r in read("DESCRIBE shop.analyst__customers") if r[0] and not r[0].startswith("#")]
        return [c[0] for c in columns], read(query.replace("FROM analyst__", "FROM shop.analyst__"))
    columns = read("SELECT column_name FROM information_schema.columns WHERE table_name = 'analyst__customers' "
                   "ORDER BY ordinal_position")
    return [c[0] for c in columns], read(query.replace("FROM analyst__", "FROM shop.analyst__"))


def test_throwaway_project_end_to_end(tmp_path, engine):
    name, read, profile = engine
    files = load_fixture("throwaway_project.yml")
    policy = files.pop("policies/tables/customers.yml")
    if profile is not None:
        files["profiles.yml"] = profile
    project = write_files(tmp_path / "shop", files)
    warehouse = tmp_path / "shop.duckdb"
    env = env_for(project, warehouse)

    init = run("veil", ["init"], project, env)
    assert init.returncode == 0, init.stderr
    if name == "duckdb":                                     # the plugin that registers the keyed functions
        assert "plugins: [{module: veil.dbt_duckdb}]" in init.stdout
    assert (project / "policies/veil.yml").is_file()
    assert run("veil", ["init"], project, env).returncode == 2   # never overwrites

    # no manifest: veil init drafted the seed files and recognised the consent log and the registry
    veil_yml = yaml.safe_load((project / "policies/veil.yml").read_text())
    assert (veil_yml["consent"]["relation"], veil_yml["consent"]["subject"]) == ("ref('consent_log')", "customer_id")
    assert (veil_yml["erasure"]["relation"], veil_yml["erasure"]["subject"]) == ("ref('erasure_requests')",
                                                                                 "customer_id")
    assert sorted(p.name for p in (project / "policies/tables").iterdir()) == ["customers.yml"]
    drafted = yaml.safe_load((project / "policies/tables/customers.yml").read_text())
    assert drafted["subject"] == "customer_id"
    assert {c["name"]: c["pii_classification"] for c in drafted["schema"]} == {
        "customer_id": "PSEUDONYMOUS", "email": "DIRECT_PII", "phone": "DIRECT_PII", "country": "NON_PII",
        "signup_date": "NON_PII"}
    write_files(project, {"policies/tables/customers.yml": policy})    # the test's own: phone unclassified

    compiled = run("veil", ["compile"], project, env)       # for the profile's adapter
    assert compiled.returncode == 0, compiled.stderr
    if name == "postgres":                                   # the keyed masks read the key on the server
        installed = run("veil", ["keys", "install"], project, env)
        assert installed.returncode == 0, installed.stderr
    if name == "spark":
        passed = _build_on_spark(project, env)
    else:
        build = run("dbt", ["build"], project, env)
        assert build.returncode == 0, build.stdout[-3000:]
        passed = build.stdout
    assert "veil_no_raw_values_analyst__customers" in passed

    columns, got = _analyst_customers(name, read, warehouse)
    assert columns == ["customer_id", "email", "country"]      # phone is unclassified: dropped
    assert [r[0] for r in got] == [1, 3]     # 2 asked for erasure, 4 opted out of analytics
    assert all(r[1].startswith("user_") and r[1].endswith("@shop.example") for r in got)


def _build_on_spark(project, env) -> str:
    """`dbt build` in this process on the shared session; the names of the nodes that passed."""
    from pyspark.sql import SparkSession
    from spark_dbt import dbt_on_spark, outcomes

    result = dbt_on_spark(["build"], project, env, SparkSession.getActiveSession())
    failed = {name: status for name, status in outcomes(result).items() if status not in ("success", "pass")}
    assert result.success and not failed, result.exception or failed
    return "\n".join(outcomes(result))


def test_init_outside_a_dbt_project_exits_2(tmp_path):
    result = run("veil", ["init", "--project-dir", str(tmp_path)], tmp_path, env_for(tmp_path, tmp_path / "x"))
    assert result.returncode == 2 and "no dbt_project.yml" in result.stderr
