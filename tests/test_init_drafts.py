"""`dbt parse && veil init` on throwaway projects unlike the reference: the drafts compile and build.

`classic_shop` without its consent log and registry: seeds whose subject
column is `id` (customers) and `user_id` (orders), payments reaching the
subject through `order_id`; veil init scaffolds the two seeds. `renamed_source`:
sources whose names differ from their schema and identifiers, a consent log
and a registry of its own (subject `customer_id`), lines reaching the subject
through their invoice. One `dbt build` in this module.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
import yaml
from dbt_runner import env_for, run
from erasure_projects import PROJECTS

from veil.compile import compile_project

pytestmark = pytest.mark.dbt


def _output(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def _copy(name: str, tmp_path, drop: tuple[str, ...] = ()):
    path = tmp_path / name
    shutil.copytree(PROJECTS / name, path, ignore=shutil.ignore_patterns("target", "logs", ".veil", "*.duckdb*",
                                                                        "policies", *drop))
    warehouse = tmp_path / f"{name}.duckdb"
    return path, warehouse, env_for(path, warehouse)


def _policy(project, name: str) -> dict:
    return yaml.safe_load((project / "policies" / "tables" / f"{name}.yml").read_text())


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """classic_shop with no consent log, no registry, no policies: parsed, drafted, compiled, built."""
    project, warehouse, env = _copy("classic_shop", tmp_path_factory.mktemp("shop"),
                                    ("consent_events.csv", "erasure_requests.csv"))
    settings = project / "dbt_project.yml"
    settings.write_text("\n".join(line for line in settings.read_text().splitlines()
                                  if "consent_events" not in line and "erasure_requests" not in line
                                  and "customer_id: bigint, purpose" not in line
                                  and "request_id: varchar" not in line) + "\n")
    parsed = run("dbt", ["parse"], project, env)
    assert parsed.returncode == 0, _output(parsed)
    init = run("veil", ["init"], project, env)
    assert init.returncode == 0, _output(init)
    compiled = run("veil", ["compile"], project, env)
    assert compiled.returncode == 0, _output(compiled)
    build = run("dbt", ["build"], project, env)
    return project, warehouse, env, init, build


def test_drafts_every_seed_with_its_subject(shop):
    project, _, _, init, _ = shop
    assert "plugins: [{module: veil.dbt_duckdb}]" in init.stdout
    assert sorted(p.name for p in (project / "policies/tables").iterdir()) == [
        "raw_customers.yml", "raw_orders.yml", "raw_payments.yml"]
    customers = _policy(project, "raw_customers")
    assert customers["relation"] == "ref('raw_customers')" and customers["subject"] == "id"
    assert {c["name"]: c["pii_classification"] for c in customers["schema"]} == {
        "id": "PSEUDONYMOUS", "first_name": "DIRECT_PII", "last_name": "DIRECT_PII", "email": "DIRECT_PII"}
    assert _policy(project, "raw_orders")["subject"] == "user_id"
    assert _policy(project, "raw_payments")["subject"] == {"via": "order_id", "relation": "ref('raw_orders')",
                                                           "key": "id"}
    text = (project / "policies/tables/raw_customers.yml").read_text()
    assert "# DIRECT_PII email, confidence 0.99: name: email rule 'email'; values: 100% of 40 sampled" in text
    assert ".veil/" in (project / ".gitignore").read_text().splitlines()


def test_scaffolds_typed_consent_log_and_registry(shop):
    project, *_ = shop
    veil_yml = yaml.safe_load((project / "policies/veil.yml").read_text())
    assert veil_yml["consent"] == {"relation": "ref('veil_consent_log')", "subject": "customer_id",
                                   "purpose": "purpose", "granted": "granted", "recorded_at": "recorded_at"}
    assert veil_yml["erasure"]["relation"] == "ref('veil_deletion_requests')"
    seeds = {s["name"]: s["config"]["column_types"]
             for s in yaml.safe_load((project / "seeds/_veil_seeds.yml").read_text())["seeds"]}
    assert seeds["veil_deletion_requests"] == {"request_id": "varchar", "customer_id": "bigint",
                                               "requested_at": "timestamp"}
    assert (project / "seeds/veil_deletion_requests.csv").read_text() == "request_id,customer_id,requested_at\n"


def test_the_drafted_project_builds(shop):
    _, warehouse, _, _, build = shop
    assert build.returncode == 0, _output(build)
    assert "veil_not_erased_analyst__raw_customers" in build.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        registry = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_name = 'veil_deletion_requests'").fetchall())
        analyst = [r[0] for r in con.execute("DESCRIBE analyst__raw_customers").fetchall()]
        emails = [r[0] for r in con.execute("SELECT email FROM analyst__raw_customers").fetchall()]
        support = [r[0] for r in con.execute("DESCRIBE support__raw_customers").fetchall()]
        payments = con.execute("SELECT count(*) FROM analyst__raw_payments").fetchone()[0]
    assert registry == {"request_id": "VARCHAR", "customer_id": "BIGINT", "requested_at": "TIMESTAMP"}
    assert analyst == ["id", "email"]                   # names dropped, email masked to its domain
    assert emails and all(e.startswith("user_") and e.endswith("@mail.example") for e in emails)
    assert support == ["id", "first_name", "last_name", "email"]
    assert payments == 110


def test_check_passes_on_the_built_project(shop):
    project, _, env, _, build = shop
    assert build.returncode == 0
    checked = run("veil", ["classify", "--check"], project, env)
    assert checked.returncode == 0, _output(checked)
    assert "3 policy tables checked" in checked.stdout


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """renamed_source, its raw tables loaded by another tool, parsed and drafted (not built)."""
    project, warehouse, env = _copy("renamed_source", tmp_path_factory.mktemp("renamed"))
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"SET file_search_path = '{project.as_posix()}'")
        con.execute((project / "setup_ingest.sql").read_text())
    parsed = run("dbt", ["parse"], project, env)
    assert parsed.returncode == 0, _output(parsed)
    init = run("veil", ["init"], project, env)
    assert init.returncode == 0, _output(init)
    return project, warehouse, env, init


def test_drafts_match_the_hand_written_policies(renamed):
    project, *_ = renamed
    written = PROJECTS / "renamed_source" / "policies" / "tables"
    for name in ("clients", "invoices", "invoice_lines"):
        expected = yaml.safe_load((written / f"{name}.yml").read_text())
        drafted = _policy(project, name)
        assert (drafted["relation"], drafted["subject"]) == (expected["relation"], expected["subject"]), name
        assert ({c["name"]: (c["type"], c["pii_classification"]) for c in drafted["schema"]}
                == {c["name"]: (c["type"], c["pii_classification"]) for c in expected["schema"]}), name


def test_finds_the_projects_own_consent_log_and_registry(renamed):
    project, _, _, init = renamed
    veil_yml = yaml.safe_load((project / "policies/veil.yml").read_text())
    assert veil_yml["consent"]["relation"] == "ref('client_consents')"
    assert veil_yml["consent"]["subject"] == "client_id"
    assert veil_yml["erasure"] == {"relation": "ref('forget_requests')", "subject": "customer_id",
                                   "requested_at": "requested_at", "request_id": "request_id", "sla_days": 30}
    assert not (project / "seeds" / "_veil_seeds.yml").exists()
    assert sorted(p.stem for p in (project / "policies/tables").iterdir()) == ["clients", "invoice_lines", "invoices"]
    assert "consent log: main.client_consents (ref('client_consents'))" in init.stdout


def test_drafts_compile_and_check_against_the_warehouse(renamed):
    project, _, env, _ = renamed
    plan, _ = compile_project(project)
    assert {m.name for m in plan.models} >= {"analyst__clients", "support__invoice_lines"}
    checked = run("veil", ["classify", "--check"], project, env)
    assert checked.returncode == 0, _output(checked)
    listed = run("veil", ["classify", "--format", "json"], project, env)
    assert listed.returncode == 0, _output(listed)
    tables = {c["table"] for c in json.loads(listed.stdout)["columns"]}
    assert {"ingest.client_accounts", "ingest.invoice_headers", "ingest.invoice_items"} <= tables
