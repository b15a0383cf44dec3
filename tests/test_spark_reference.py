"""The reference project on Spark: the same policies and generated models, built in-process on parquet.

The synthetic data is loaded into database `raw` of the shared session
(`veil.demo.spark`), and `dbt build --target spark` runs through
`veil.dbt_spark` with every model but `ml__payments`: it tokenizes
`card_number`, and `tokenize` does not run on Spark (its vault cannot be
shared by Spark's workers), which `veil compile --target spark` says at the
policy's line. The generated privacy tests pass; `hash` and `domain_only`
give DuckDB's values for the same key; and each privacy test fails, alone,
when a row that its filter should have kept out is put into a built model.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import duckdb
import pytest
from dbt_runner import BIN
from helpers import REPO, TEST_KEY_HEX
from spark_dbt import dbt_on_spark, outcomes

from veil.demo.spark import load
from veil.duckdb_functions import register_functions

pytestmark = [pytest.mark.spark, pytest.mark.dbt]

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "pyproject.toml", "policies", "models", "macros")
PRIVACY_TESTS = ("veil_no_raw_values", "veil_not_erased", "veil_consented", "veil_within_retention")
NOT_ON_SPARK = "ml__payments"   # tokenize


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference_spark")
    for part in PROJECT_PARTS:
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, root / part)
    schema = f"veil_ref_{uuid.uuid4().hex[:8]}"
    env = {"VEIL_KEY": TEST_KEY_HEX, "DBT_PROFILES_DIR": str(root), "DBT_TARGET": "spark",
           "VEIL_SPARK_SCHEMA": schema, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_LOG_PATH": str(root / "logs")}
    load(spark, users=300, events=3000)
    build = dbt_on_spark(["build", "--exclude", NOT_ON_SPARK], root, env, spark)
    yield {"root": root, "env": env, "schema": schema, "build": build}
    for database in (schema, *(f"{schema}_{a}" for a in ("analyst", "support", "ml"))):
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


def _rows(spark, sql: str) -> list[tuple]:
    return [tuple(r) for r in spark.sql(sql).collect()]


def _relation(spark, reference, model: str) -> str:
    """Where dbt-spark built `model` (the audience's custom schema, or the target's)."""
    for database in (f"{reference['schema']}_{model.split('__')[0]}", reference["schema"]):
        if spark.catalog.tableExists(f"{database}.{model}"):
            return f"{database}.{model}"
    raise AssertionError(f"{model} was not built")


def test_compile_for_spark_refuses_tokenize_at_its_policy_line(reference):
    result = subprocess.run([str(BIN / "veil"), "compile", "--check", "--target", "spark"], cwd=reference["root"],
                            env={"PATH": "/usr/bin:/bin", "HOME": str(reference["root"])}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "policies/tables/payments.yml:" in result.stderr and "strategy tokenize is not available on spark" \
        in result.stderr and "Traceback" not in result.stderr


def test_the_reference_project_builds_on_spark_with_its_privacy_tests_green(reference):
    build = reference["build"]
    status = outcomes(build)
    failed = {name: s for name, s in status.items() if s not in ("success", "pass")}
    assert build.success and not failed, build.exception or failed
    for test in PRIVACY_TESTS:
        assert any(name.startswith(test) for name in status), test
    assert NOT_ON_SPARK not in status and "analyst__payments" in status and "support__payments" in status


def test_hash_and_domain_only_are_duckdbs_values(spark, reference):
    emails = dict(_rows(spark, "SELECT user_id, email FROM raw.users"))
    devices = dict(_rows(spark, "SELECT event_id, device_id FROM raw.events"))
    users = _rows(spark, f"SELECT user_id, email FROM {_relation(spark, reference, 'analyst__users')}")
    events = _rows(spark, f"SELECT event_id, device_id FROM {_relation(spark, reference, 'analyst__events')}")
    with duckdb.connect() as duck:
        register_functions(duck, bytes.fromhex(TEST_KEY_HEX), {})
        for user, email in users:
            assert email == duck.execute("SELECT veil_mask_domain_only(?)", [emails[user]]).fetchone()[0]
        for event, device in events:
            if devices[event] is not None:
                assert device == duck.execute("SELECT veil_mask_hash(?)", [devices[event]]).fetchone()[0]
    assert len(users) > 100 and len(events) > 1000


def _one(spark, sql: str):
    rows = _rows(spark, sql)
    assert rows, sql
    return rows[0][0]


def _breaking_row(spark, reference, case: str) -> tuple[str, str]:
    """(model, the SELECT of one row that `case`'s filter must have kept out of it)."""
    users = _relation(spark, reference, "analyst__users")
    if case == "erased":
        subject = _one(spark, "SELECT min(user_id) FROM raw.deletion_requests")
        return users, f"SELECT {subject}, email, birth_date, zip, gender, country, created_at FROM {users} LIMIT 1"
    if case == "consent":
        current = f"{reference['schema']}.veil_consent_current"
        subject = _one(spark, f"SELECT min(subject) FROM {current} WHERE purpose = 'analytics' AND NOT granted")
        return users, f"SELECT {subject}, email, birth_date, zip, gender, country, created_at FROM {users} LIMIT 1"
    if case == "raw value":
        email = _one(spark, "SELECT email FROM raw.users WHERE email IS NOT NULL ORDER BY user_id LIMIT 1")
        return users, (f"SELECT user_id, '{email}', birth_date, zip, gender, country, created_at FROM {users} "
                       "LIMIT 1")
    events = _relation(spark, reference, "analyst__events")
    columns = [c.name for c in spark.catalog.listColumns(events)]
    old = [("TIMESTAMP '2000-01-01'" if c == "event_ts" else c) for c in columns]
    return events, f"SELECT {', '.join(old)} FROM {events} LIMIT 1"


@pytest.mark.parametrize(("case", "test"), [("erased", "veil_not_erased"), ("consent", "veil_consented"),
                                            ("raw value", "veil_no_raw_values"),
                                            ("retention", "veil_within_retention")])
def test_a_row_that_breaks_a_filter_fails_its_privacy_test_on_spark(spark, reference, case, test):
    """Each generated test catches its own broken filter on Spark, and only that test fails."""
    relation, row = _breaking_row(spark, reference, case)
    model = relation.split(".")[-1]
    backup = f"{reference['schema']}.veil_backup_{uuid.uuid4().hex[:6]}"
    spark.sql(f"CREATE TABLE {backup} USING parquet AS SELECT * FROM {relation}")
    try:
        spark.sql(f"INSERT INTO {relation} {row}")
        result = dbt_on_spark(["test", "--select", model], reference["root"], reference["env"], spark)
        failed = [name for name, status in outcomes(result).items() if status == "fail"]
        assert not result.success and failed and all(name.startswith(f"{test}_{model}") for name in failed), \
            outcomes(result)
    finally:
        spark.sql(f"INSERT OVERWRITE TABLE {relation} SELECT * FROM {backup}")
        spark.sql(f"DROP TABLE {backup}")
    again = dbt_on_spark(["test", "--select", model], reference["root"], reference["env"], spark)
    assert again.success, outcomes(again)
