"""`veil classify` and `veil init` on a warehouse, without dbt: formats, --check, --update, bad input."""

from __future__ import annotations

import json

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from helpers import write_files

from veil.cli import main
from veil.compile import compile_project
from veil.policy.load import load_policies

WAREHOUSE_SQL = """
CREATE SCHEMA raw;
CREATE SCHEMA finance;
CREATE TABLE raw.members AS SELECT
    i AS id,
    'Ann' || i || ' Lee' AS display_name,
    'member' || i || '@mail.example' AS eml,
    printf('+1-202-555-01%02d', i % 100) AS col_17,
    i % 2 = 0 AS phone_verified,
    DATE '1960-01-01' + (i * 97 % 15000)::INT AS dob,
    'DE' AS country
FROM range(1, 301) AS r(i);
CREATE TABLE raw.orders AS SELECT i AS order_id, 1 + i % 300 AS member_id, (i % 90) + 0.5 AS amount
FROM range(1, 901) AS r(i);
CREATE TABLE finance.payments AS SELECT i AS payment_id, 1 + i % 900 AS order_id, 'card' AS method
FROM range(1, 1201) AS r(i);
"""

PROJECT = {
    "dbt_project.yml": "name: club\nversion: '1.0.0'\nconfig-version: 2\nprofile: club\n",
    "profiles.yml": "club:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n",
    ".gitignore": "target/\nlogs/",
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("classify") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(WAREHOUSE_SQL)
    return path


def veil(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_json_is_the_contract(warehouse):
    result = veil("classify", "--database", str(warehouse), "--format", "json")
    assert result.exit_code == 0, result.output
    columns = json.loads(result.output)["columns"]
    assert all(set(c) == {"table", "column", "classification", "category", "confidence", "evidence"}
               for c in columns)
    found = {(c["table"], c["column"]): (c["classification"], c["category"]) for c in columns}
    assert found[("raw.members", "eml")] == ("DIRECT_PII", "email")
    assert found[("raw.members", "col_17")] == ("DIRECT_PII", "phone")
    assert found[("raw.members", "phone_verified")] == ("NON_PII", "other")
    assert found[("raw.members", "dob")] == ("QUASI_PII", "birth_date")
    assert found[("raw.members", "id")] == ("PSEUDONYMOUS", "subject_key")
    assert found[("raw.orders", "member_id")] == ("PSEUDONYMOUS", "subject_key")
    assert found[("finance.payments", "order_id")] == ("NON_PII", "record_key")
    assert all(0 < c["confidence"] <= 1 and c["evidence"] for c in columns)


def test_schema_sample_and_the_other_formats(warehouse):
    as_yaml = veil("classify", "--database", str(warehouse), "--schema", "finance", "--format", "yaml")
    assert as_yaml.exit_code == 0
    assert {c["table"] for c in yaml.safe_load(as_yaml.output)["columns"]} == {"finance.payments"}
    human = veil("classify", "--database", str(warehouse), "--sample", "50")
    assert human.exit_code == 0
    assert "raw.members: 50 rows sampled" in human.output and "subject: raw.members.id" in human.output


@pytest.mark.parametrize(("args", "message"), [
    (["classify", "--database", "missing.duckdb"], "missing.duckdb not found"),
    (["classify", "--database", "{w}", "--schema", "nope"], "no tables in schema 'nope'"),
    (["classify", "--project-dir", "{tmp}"], "no dbt_project.yml"),
    (["classify", "--project-dir", "{project}"], "run `dbt parse` first"),
    (["init", "--project-dir", "{project}", "--database", "missing.duckdb"], "missing.duckdb not found"),
    (["classify", "--check", "--project-dir", "{project}"], "run `veil init`"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, warehouse, args, message):
    project = write_files(tmp_path / "p", PROJECT)
    args = [a.format(w=warehouse, tmp=tmp_path, project=project) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def drafted(tmp_path_factory, warehouse):
    """A project with no manifest, drafted from the warehouse."""
    project = write_files(tmp_path_factory.mktemp("init") / "club", PROJECT)
    result = veil("init", "--project-dir", str(project), "--database", str(warehouse))
    assert result.exit_code == 0, result.output
    return project, result.output


def test_init_drafts_from_a_warehouse(drafted):
    project, output = drafted
    assert "plugins: [{module: veil.dbt_duckdb}]" in output
    assert "declare them in a sources .yml" in output
    members = yaml.safe_load((project / "policies/tables/members.yml").read_text())
    assert members["relation"] == "source('raw', 'members')" and members["subject"] == "id"
    classes = {c["name"]: c["pii_classification"] for c in members["schema"]}
    assert classes == {"id": "PSEUDONYMOUS", "display_name": "DIRECT_PII", "eml": "DIRECT_PII",
                       "col_17": "DIRECT_PII", "phone_verified": "NON_PII", "dob": "QUASI_PII", "country": "NON_PII"}
    text = (project / "policies/tables/members.yml").read_text()
    assert "# DIRECT_PII phone, confidence" in text and "phonenumbers" in text
    orders = yaml.safe_load((project / "policies/tables/orders.yml").read_text())
    payments = yaml.safe_load((project / "policies/tables/payments.yml").read_text())
    assert orders["subject"] == "member_id"
    assert payments["subject"] == {"via": "order_id", "relation": "source('raw', 'orders')", "key": "order_id"}
    veil_yml = yaml.safe_load((project / "policies/veil.yml").read_text())
    assert veil_yml["consent"]["relation"] == "ref('veil_consent_log')"
    assert veil_yml["erasure"]["subject"] == "member_id"
    seeds = yaml.safe_load((project / "seeds/_veil_seeds.yml").read_text())
    registry = next(s for s in seeds["seeds"] if s["name"] == "veil_deletion_requests")
    assert registry["config"]["column_types"]["member_id"] == "bigint"
    assert (project / "seeds/veil_deletion_requests.csv").read_text() == "request_id,member_id,requested_at\n"
    assert (project / ".gitignore").read_text().startswith("target/\nlogs/\n")
    assert ".veil/" in (project / ".gitignore").read_text().splitlines()
    load_policies(project)
    plan, _ = compile_project(project)
    assert {m.name for m in plan.models} >= {"analyst__members", "support__members", "analyst__payments"}


def test_check_passes_then_finds_missing_and_contradicted_columns(drafted, warehouse, tmp_path):
    project, _ = drafted
    checked = veil("classify", "--check", "--project-dir", str(project), "--database", str(warehouse))
    assert checked.exit_code == 0, checked.output
    copy = tmp_path / "changed.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("ALTER TABLE raw.members ADD COLUMN backup_ssn VARCHAR")
        con.execute("UPDATE raw.members SET backup_ssn = printf('%03d-45-%04d', 100 + id, 1000 + id)")
        con.execute("UPDATE raw.members SET country = 'member' || id || '@mail.example'")
    changed = veil("classify", "--check", "--project-dir", str(project), "--database", str(copy))
    assert changed.exit_code == 1
    lines = [line for line in changed.output.splitlines() if line.startswith("policies/")]
    assert len(lines) == 2
    assert lines[0].startswith("policies/tables/members.yml: members.country: declared NON_PII but its sampled "
                               "values are DIRECT_PII (email)")
    assert lines[1].startswith("policies/tables/members.yml: members.backup_ssn: column of raw.members missing "
                               "from the policy (drafted: DIRECT_PII ssn")
    as_json = veil("classify", "--check", "--project-dir", str(project), "--database", str(copy), "--format", "json")
    assert as_json.exit_code == 1
    assert [f["problem"] for f in json.loads(as_json.output)["findings"]] == ["contradiction", "missing"]

    with duckdb.connect(str(copy)) as con:
        con.execute("DROP TABLE finance.payments")
    gone = CliRunner().invoke(main, ["classify", "--check", "--project-dir", str(project), "--database", str(copy)])
    assert gone.exit_code == 2 and "source('finance', 'payments') is not in the warehouse" in gone.output


def test_init_never_overwrites_and_update_adds_drafts(drafted, warehouse, tmp_path):
    project, _ = drafted
    again = CliRunner().invoke(main, ["init", "--project-dir", str(project), "--database", str(warehouse)])
    assert again.exit_code == 2 and "already exists" in again.output
    members = project / "policies/tables/members.yml"
    before = members.read_text()
    copy = tmp_path / "grown.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("ALTER TABLE raw.members ADD COLUMN home_ip VARCHAR")
        con.execute("UPDATE raw.members SET home_ip = '10.0.' || (id % 250) || '.7'")
        con.execute("CREATE TABLE raw.referrals AS SELECT i AS referral_id, i AS member_id FROM range(1, 50) r(i)")
    updated = veil("init", "--update", "--project-dir", str(project), "--database", str(copy))
    assert updated.exit_code == 0, updated.output
    assert "updated policies/tables/members.yml: 1 new column as unreviewed drafts (home_ip)" in updated.output
    assert "created policies/tables/referrals.yml" in updated.output
    after = members.read_text()
    assert after.startswith(before.rstrip("\n"))
    assert "# unreviewed draft (veil init --update): QUASI_PII ip_address" in after
    handling = next(c for c in yaml.safe_load(after)["schema"] if c["name"] == "home_ip")["data_handling"]
    assert handling == {"masking": {"analytics": "subnet_only", "customer_support": "subnet_only"}}
    load_policies(project)
    unchanged = veil("init", "--update", "--project-dir", str(project), "--database", str(copy))
    assert "kept policies/tables/members.yml (no new columns)" in unchanged.output
    assert members.read_text() == after
