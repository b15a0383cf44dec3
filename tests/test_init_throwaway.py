"""veil on any dbt project on DuckDB: `veil init` + a policy + `veil compile` + `dbt build`."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from dbt_runner import env_for, run
from helpers import load_fixture, write_files

pytestmark = pytest.mark.dbt


def test_throwaway_project_end_to_end(tmp_path):
    files = load_fixture("throwaway_project.yml")
    policy = files.pop("policies/tables/customers.yml")
    project = write_files(tmp_path / "shop", files)
    warehouse = tmp_path / "shop.duckdb"
    env = env_for(project, warehouse)

    init = run("veil", ["init"], project, env)
    assert init.returncode == 0, init.stderr
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

    compiled = run("veil", ["compile"], project, env)
    assert compiled.returncode == 0, compiled.stderr
    build = run("dbt", ["build"], project, env)
    assert build.returncode == 0, build.stdout[-3000:]
    assert "veil_no_raw_values_analyst__customers" in build.stdout

    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [c[0] for c in con.execute("DESCRIBE analyst__customers").fetchall()]
        got = con.execute("SELECT customer_id, email, country FROM analyst__customers ORDER BY 1").fetchall()
    assert columns == ["customer_id", "email", "country"]      # phone is unclassified: dropped
    assert [r[0] for r in got] == [1, 3]     # 2 asked for erasure, 4 opted out of analytics
    assert all(r[1].startswith("user_") and r[1].endswith("@shop.example") for r in got)


def test_init_outside_a_dbt_project_exits_2(tmp_path):
    result = run("veil", ["init", "--project-dir", str(tmp_path)], tmp_path, env_for(tmp_path, tmp_path / "x"))
    assert result.returncode == 2 and "no dbt_project.yml" in result.stderr
