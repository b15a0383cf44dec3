"""The reference project end to end on DuckDB: generate, compile, dbt build, publish.

Privacy claims are checked on the built data, and a generated test is made to
fail on purpose, to prove it can.
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from dbt_runner import env_for, run
from helpers import REPO, TEST_KEY_HEX
from veil.demo.synthetic import generate

pytestmark = pytest.mark.dbt

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "pyproject.toml", "policies", "models", "macros")
DIRECT_PII = {"users": ["name", "email", "phone", "ssn"], "payments": ["card_number"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    project = tmp_path_factory.mktemp("reference")
    for part in PROJECT_PARTS:
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / part)
    warehouse = project / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        generate(con, users=300, events=3000, as_of=date(2026, 11, 1))
    env = env_for(project, warehouse)
    assert run("veil", ["compile", "--check"], project, env).returncode == 0
    build = run("dbt", ["build"], project, env)
    assert build.returncode == 0, build.stdout[-4000:]
    return project, warehouse, env, build


def raw_values(warehouse, table, columns):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {v for c in columns for (v,) in con.execute(f"SELECT DISTINCT {c} FROM raw.{table}").fetchall() if v}


def test_dbt_build_runs_veil_tests(reference):
    _, _, _, build = reference
    assert "veil_no_raw_values_analyst__users" in build.stdout
    assert "veil_not_erased_analyst__users" in build.stdout
    assert "ERROR=0" in build.stdout


def test_no_key_material_in_target_or_logs(reference):
    from veil.keyring import KEY_NAMES, keyring_from_key

    project, _, _, _ = reference
    keyring = keyring_from_key(bytes.fromhex(TEST_KEY_HEX))
    secrets = [TEST_KEY_HEX.encode()]
    for name in KEY_NAMES:
        material = keyring.primary(name).material
        secrets += [material, material.hex().encode()]
    scanned = 0
    for folder in ("target", "logs", "models", "macros", "published"):
        for path in (project / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                scanned += 1
                assert not any(secret in data for secret in secrets), path
    assert scanned > 20


def test_erased_and_masked_on_built_data(reference):
    _, warehouse, _, _ = reference
    with duckdb.connect(str(warehouse), read_only=True) as con:
        erased = {r[0] for r in con.execute("SELECT user_id FROM raw.deletion_requests").fetchall()}
        assert erased
        for model in ("analyst__users", "ml__events", "support__payments"):
            present = {r[0] for r in con.execute(f"SELECT DISTINCT user_id FROM {model}").fetchall()}
            assert not present & erased, model
        emails = [r[0] for r in con.execute("SELECT email FROM analyst__users WHERE email IS NOT NULL").fetchall()]
        assert emails and all(e.startswith("user_") and "@" in e for e in emails)
    assert not set(emails) & raw_values(warehouse, "users", ["email"])


def test_publish_contains_only_the_audience_and_no_raw_bytes(reference):
    project, warehouse, env, _ = reference
    out = project / "published" / "analyst.duckdb"
    result = run("veil", ["publish", "--audience", "analyst", "--out", str(out)], project, env)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(out), read_only=True) as con:
        tables = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall())
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
    assert tables == ["analyst__events", "analyst__payments", "analyst__users"] and views == 0

    # control: the same copy method on the raw table does leave the plaintext in the file
    control = project / "control.duckdb"
    with duckdb.connect(str(control)) as con:
        con.execute(f"ATTACH '{warehouse}' AS w (READ_ONLY)")
        con.execute("CREATE TABLE users AS SELECT email, ssn, phone, name FROM w.raw.users")
        con.execute("CREATE TABLE payments AS SELECT card_number FROM w.raw.payments")
    control_bytes = control.read_bytes()
    published_bytes = out.read_bytes()
    checked = 0
    for table, columns in DIRECT_PII.items():
        for value in raw_values(warehouse, table, columns):
            needle = value.encode()
            if needle in control_bytes:
                checked += 1
                assert needle not in published_bytes, f"raw {table} value found in the published file"
    assert checked >= 100, "too few raw values were findable in the control file to prove anything"


def test_publish_unknown_audience_exits_2(reference):
    project, _, env, _ = reference
    result = run("veil", ["publish", "--audience", "nobody", "--out", "x.duckdb"], project, env)
    assert result.returncode == 2 and "unknown audience 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr and not (project / "x.duckdb").exists()


def test_summary_lists_every_audience(reference):
    project, _, env, _ = reference
    result = run("veil", ["summary"], project, env)
    assert result.returncode == 0, result.stderr
    for audience in ("analyst", "ml", "support"):
        assert f"audience {audience}" in result.stdout
    assert "analyst__users" in result.stdout and "lost: erasure" in result.stdout and "consent" in result.stdout


@pytest.mark.parametrize(("statement", "failing_test"), [
    ("INSERT INTO analyst__users (user_id, email) SELECT user_id, email FROM raw.users LIMIT 1",
     "veil_no_raw_values_analyst__users"),
    ("INSERT INTO analyst__users (user_id) SELECT user_id FROM raw.deletion_requests LIMIT 1",
     "veil_not_erased_analyst__users"),
])
def test_generated_tests_fail_when_privacy_is_broken(reference, tmp_path, statement, failing_test):
    project, warehouse, _, _ = reference
    broken = tmp_path / "broken.duckdb"
    shutil.copy(warehouse, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(statement)
    result = run("dbt", ["test", "--select", "analyst__users"], project, env_for(project, broken))
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if "FAIL" in line and failing_test in line]
    assert failed, result.stdout[-3000:]


def test_build_without_key_fails_clearly(reference, tmp_path):
    project, warehouse, _, _ = reference
    copy = tmp_path / "nokey.duckdb"
    shutil.copy(warehouse, copy)
    result = run("dbt", ["run", "--select", "analyst__users"], project, env_for(project, copy, key=None))
    assert result.returncode != 0
    assert "VEIL_KEY" in result.stdout
    assert TEST_KEY_HEX not in result.stdout


@pytest.mark.parametrize(("model", "broken_line", "failing_test"), [
    ("models/veil/ml/ml__users.sql", "veil_consent_filter", "veil_consented_ml__users"),
    ("models/veil/analyst/analyst__users.sql", "veil_consent_filter", "veil_consented_analyst__users"),
    ("models/veil/analyst/analyst__events.sql", "veil_retention_filter", "veil_within_retention_analyst__events"),
    ("models/veil/analyst/analyst__events.sql", "veil_within_days", "veil_within_retention_analyst__events"),
])
def test_generated_tests_fail_when_a_filter_is_broken(reference, tmp_path, model, broken_line, failing_test):
    project, warehouse, _, _ = reference
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("*.duckdb", "target", "logs"))
    path = copy / model
    text = path.read_text()
    if broken_line == "veil_within_days":   # the column expiry: keep the value whatever its age
        broken = text.replace("{{ veil_within_days('src.event_ts', 30) }}", "TRUE")
    else:                                   # the row filter: drop its line from the WHERE
        broken = "\n".join(line.replace(f"AND {{{{ {broken_line}", "AND TRUE OR {{ " + broken_line)
                           for line in text.splitlines())
    assert broken != text
    path.write_text(broken)
    broken_warehouse = tmp_path / "broken.duckdb"
    shutil.copy(warehouse, broken_warehouse)
    name = path.stem
    result = run("dbt", ["build", "--select", name], copy, env_for(copy, broken_warehouse))
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if "FAIL" in line and failing_test in line]
    assert failed, result.stdout[-3000:]


def test_retention_dry_run_finds_the_physical_tables_through_the_manifest(reference):
    project, _, env, _ = reference
    assert (project / "target" / "manifest.json").is_file()
    result = run("veil", ["retention", "--dry-run"], project, env)
    assert result.returncode == 0, result.stderr
    assert 'events ("raw"."events"): would delete' in result.stdout
    assert "would null ip_address in" in result.stdout


def test_lint_dbt_project_is_clean(reference):
    project, _, env, _ = reference
    assert run("dbt", ["compile"], project, env).returncode == 0   # other tests leave partial manifests
    result = run("veil", ["lint", "--format", "json"], project, env)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["summary"]["files"] == 2          # the marts; staging excluded, generated models skipped


BAD_MART = """{{ config(materialized='view') }}
-- a mart that reads the raw users table
select
    user_id,
    email
from {{ source('raw', 'users') }}
"""


def test_lint_dbt_finds_a_bad_mart_at_its_source_line(reference, tmp_path):
    project, warehouse, _, _ = reference
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("*.duckdb", "logs"))
    (copy / "models/marts/bad_mart.sql").write_text(BAD_MART)
    env = env_for(copy, tmp_path / "copy.duckdb")
    shutil.copy(warehouse, tmp_path / "copy.duckdb")
    compiled = run("dbt", ["compile", "--select", "bad_mart"], copy, env)
    assert compiled.returncode == 0, compiled.stdout[-2000:]
    result = run("veil", ["lint", "--dbt", "--format", "json"], copy, env)
    assert result.returncode == 1
    findings = {(f["path"], f["line"], f["rule"]) for f in json.loads(result.stdout)["findings"]}
    assert ("models/marts/bad_mart.sql", 5, "VL002") in findings    # `email`, mapped back to its line
    # the source() line differs once compiled: its literal text around the Jinja still finds it
    assert ("models/marts/bad_mart.sql", 6, "VL003") in findings


def test_erase_access_and_snapshot_on_the_reference_project(reference, tmp_path):
    project, warehouse, _, _ = reference
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".veil"))
    env = {**env_for(copy, copy / "wh.duckdb"), "VEIL_AUDIT_DB": str(copy / "audit.duckdb"),
           "VEIL_VAULT": str(copy / "vault.duckdb")}
    shutil.copy(warehouse, copy / "wh.duckdb")
    assert run("veil", ["publish", "--audience", "analyst", "--out", "published/analyst.duckdb"], copy,
               env).returncode == 0
    snapshot = run("veil", ["snapshot", "--audience", "ml", "--out", "snapshots"], copy, env)
    assert snapshot.returncode == 0, snapshot.stderr
    with duckdb.connect(str(copy / "wh.duckdb")) as con:
        erased = [r[0] for r in con.execute("SELECT user_id FROM raw.deletion_requests").fetchall()]
        emails = [r[0] for r in con.execute(f"SELECT email FROM raw.users WHERE user_id IN ({','.join(map(str, erased))})").fetchall()]
        new = con.execute("SELECT user_id FROM ml__users ORDER BY user_id LIMIT 1").fetchall()[0][0]
        con.execute("INSERT INTO raw.deletion_requests VALUES (999999, ?, TIMESTAMP '2026-11-01', 'GDPR')", [new])
    result = run("veil", ["erase"], copy, env)
    assert result.returncode == 0, result.stderr
    assert f"{len(erased) + 1} requests completed" in result.stdout
    assert "main.dim_user_activity" in result.stdout and "aggregate       main.fct_daily_revenue_by_country" in result.stdout
    with duckdb.connect(str(copy / "wh.duckdb"), read_only=True) as con:
        for table in ("raw.users", "raw.events", "raw.consent_events", "main.dim_user_activity", "main.ml__users"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?", [new]).fetchall() == [(0,)], table
    published = (copy / "published/analyst.duckdb").read_bytes() + (copy / "wh.duckdb").read_bytes()
    assert not any(e.strip().encode() in published for e in emails if e)
    assert run("veil", ["audit", "verify"], copy, env).returncode == 0
    report = run("veil", ["audit", "report", "--request", "999999", "--format", "json"], copy, env)
    assert '"status": "completed"' in report.stdout and "raw.users" in report.stdout
    access = run("veil", ["access", "--subject", str(new), "--out", "access.json"], copy, env)
    assert access.returncode == 0, access.stderr
    document = json.loads((copy / "access.json").read_text())
    assert all(not t["rows"] for t in document["tables"] if t.get("table") != "payments")
    assert document["erasure"]["requested"] is True
    check = run("veil", ["snapshot", "--check", str(next((copy / "snapshots").iterdir()))], copy, env)
    assert check.returncode == 1                                   # the snapshot holds a subject erased since
