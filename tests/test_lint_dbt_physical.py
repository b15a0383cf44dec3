"""dbt mode matches relations by the physical names the manifest compiles them to.

The project (tests/fixtures/lint_dbt/ecom_project.yml) names nothing the way
its warehouse does: source `ecom` lives in schema `raw`, `raw_orders` is table
`orders_v2`, stg_customers is aliased, the policy seed and veil's models have
custom schemas and analyst__orders an alias. One `veil compile` + `dbt compile`
for the module; the catalog tests below it need no dbt.
"""

from __future__ import annotations

import contextlib
import copy
import json

import pytest
from click.testing import CliRunner
from dbt_runner import env_for, run
from helpers import load_fixture, write_files

from veil.cli import main
from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.config import LintConfig
from veil.lint.derived import add_dbt_models
from veil.lint.engine import Linter
from veil.policy.load import load_policies

PROJECT = load_fixture("lint_dbt/ecom_project.yml")
POLICIES = {path: text for path, text in PROJECT.items() if path.startswith("policies/")}


def lint(project, *args):
    with contextlib.chdir(project):
        result = CliRunner().invoke(main, ["lint", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def found(report):
    return {(f["path"], f["line"], f["rule"], f["target"]["column"]) for f in report["findings"]}


def in_file(report, name):
    return [f for f in report["findings"] if f["path"] == f"models/marts/{name}.sql"]


# -- a real dbt project


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lint_dbt")
    project = write_files(root / "ecom", PROJECT)
    env = env_for(project, root / "wh.duckdb")
    for tool in ("veil", "dbt"):
        result = run(tool, ["compile"], project, env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="module")
def report(project):
    return lint(project, "--dbt")


@pytest.mark.dbt
def test_every_mart_is_linted_and_staging_excluded(report):
    assert report["summary"]["files"] == 9
    assert not any(f["path"].startswith("models/staging/") for f in report["findings"])


@pytest.mark.dbt
def test_vl002_through_an_aliased_staging_model_of_a_renamed_source(report):
    # customer_names reads ref('stg_customers'), compiled to "wh"."main"."customers_stg",
    # which selects customer_name from "wh"."raw"."raw_customers" = source('ecom', 'raw_customers')
    assert ("models/marts/customer_names.sql", 4, "VL002", "customer_name") in found(report)
    assert [f["rule"] for f in in_file(report, "customer_names")] == ["VL002"]   # a view, not the raw relation
    assert in_file(report, "customer_names")[0]["target"] == {
        "table": "customers", "column": "customer_name", "purpose": "analytics"}


@pytest.mark.dbt
def test_vl002_through_a_source_identifier_override(report):
    # stg_orders reads "wh"."raw"."orders_v2", the identifier of source('ecom', 'raw_orders')
    assert ("models/marts/order_addresses.sql", 3, "VL002", "shipping_address") in found(report)


@pytest.mark.dbt
def test_vl003_on_direct_reads_of_raw_relations(report):
    orders = in_file(report, "order_totals")
    assert [f["rule"] for f in orders] == ["VL003"]          # customer_id and amount are allowed
    assert orders[0]["message"].startswith("reads wh.raw.orders_v2, the raw relation of policy table orders")
    seed = in_file(report, "loyalty_tiers")                   # ref('loyalty_members'): seed aliased `loyalty`
    assert [f["rule"] for f in seed] == ["VL003"]
    assert seed[0]["message"].startswith("reads wh.main_ref_data.loyalty, the raw relation of policy table "
                                         "loyalty_members")


@pytest.mark.dbt
def test_vl003_on_an_audience_model_of_another_purpose(report):
    # analyst__orders is aliased analyst_orders_v1 in schema main_audiences
    campaign = in_file(report, "campaign_orders")
    assert [f["rule"] for f in campaign] == ["VL003"]
    assert campaign[0]["message"].startswith("reads analyst__orders, built for audience analyst")
    assert "read marketing__orders" in campaign[0]["message"]


@pytest.mark.dbt
@pytest.mark.parametrize("name", ["customer_countries", "email_domains", "order_report", "campaign_contacts"])
def test_clean_models_beside_failing_ones(report, name):
    # no PII column (or the policy's mask) from staging; the purpose's own audience model
    assert in_file(report, name) == []


@pytest.mark.dbt
def test_jobs_give_the_same_findings(project, report):
    assert lint(project, "--dbt", "--jobs", "2")["findings"] == report["findings"]


@pytest.mark.dbt
def test_plain_files_beside_a_manifest_use_both_names(project):
    write_files(project, {
        "queries/logical.sql": "-- veil: purpose=analytics\nselect customer_name from ecom.raw_customers\n",
        "queries/physical.sql": '-- veil: purpose=analytics\nselect customer_name from "WH"."RAW"."RAW_CUSTOMERS"\n',
        "queries/clean.sql": "-- veil: purpose=analytics\nselect country from analyst__customers\n",
    })
    report = lint(project, "queries")
    rules = {(f["path"], f["rule"]) for f in report["findings"]}
    for name in ("logical", "physical"):
        assert {(f"queries/{name}.sql", "VL002"), (f"queries/{name}.sql", "VL003")} <= rules
    assert not any(path == "queries/clean.sql" for path, _ in rules)


# -- the catalog, from hand-written manifests (no dbt)


def source(name, schema, identifier=None, database="wh"):
    identifier = identifier or name
    return {f"source.ecom.ecom.{name}": {
        "resource_type": "source", "source_name": "ecom", "name": name, "database": database, "schema": schema,
        "identifier": identifier, "relation_name": f'"{database}"."{schema}"."{identifier}"'}}


def model(name, schema="main", alias=None, sql=None, depends=(), path=None, resource_type="model"):
    alias = alias or name
    return {f"{resource_type}.ecom.{name}.{schema}": {
        "resource_type": resource_type, "name": name, "database": "wh", "schema": schema, "alias": alias,
        "relation_name": f'"wh"."{schema}"."{alias}"', "package_name": "ecom",
        "original_file_path": path or f"models/{name}.sql", "compiled_code": sql,
        "depends_on": {"nodes": list(depends)}}}


def manifest(*entries):
    result = {"sources": {}, "nodes": {}}
    for entry in entries:
        for key, value in entry.items():
            result["sources" if value["resource_type"] == "source" else "nodes"][key] = value
    return result


BASE = manifest(source("raw_customers", "raw"), source("raw_orders", "raw", "orders_v2"),
                model("loyalty_members", "main_ref_data", "loyalty", resource_type="seed"),
                model("analyst__orders", "main_audiences", "analyst_orders_v1",
                      path="models/veil/analyst/analyst__orders.sql"))


@pytest.fixture()
def plan(tmp_path):
    write_files(tmp_path, POLICIES)
    return plan_project(load_policies(tmp_path))


def table_of(entry):
    return None if entry is None else (entry.table, entry.audience)


def test_physical_names_compare_case_insensitively(plan):
    catalog = PolicyCatalog.build(plan, BASE)
    assert table_of(catalog.lookup(["WH", "Raw", "ORDERS_V2"])) == ("orders", None)
    assert table_of(catalog.lookup(["raw", "orders_v2"])) == ("orders", None)
    assert table_of(catalog.lookup(["wh", "main_ref_data", "loyalty"])) == ("loyalty_members", None)
    assert table_of(catalog.lookup(["wh", "main_audiences", "analyst_orders_v1"])) == ("orders", "analyst")
    assert catalog.lookup(["staging", "orders_v2"]) is None           # another schema's table


def test_without_a_manifest_only_the_policies_names(plan):
    catalog = PolicyCatalog.build(plan)
    assert catalog.physical == {}
    assert catalog.lookup(["wh", "raw", "orders_v2"]) is None
    assert table_of(catalog.lookup(["ecom", "raw_orders"])) == ("orders", None)
    assert table_of(catalog.lookup(["wh", "main", "analyst__orders"])) == ("orders", "analyst")


def test_a_physical_name_two_relations_claim_is_nobodys(plan):
    clash = copy.deepcopy(BASE)
    clash["sources"].update(source("raw_orders", "raw", "raw_customers"))   # both sources: wh.raw.raw_customers
    catalog = PolicyCatalog.build(plan, clash)
    assert catalog.lookup(["wh", "raw", "raw_customers"]) is None
    assert catalog.lookup(["raw", "raw_customers"]) is None
    assert table_of(catalog.lookup(["ecom", "raw_orders"])) == ("orders", None)           # the rest works
    assert table_of(catalog.lookup(["wh", "main_ref_data", "loyalty"])) == ("loyalty_members", None)


def test_a_physical_name_that_is_another_relations_policy_name_is_nobodys(plan):
    clash = copy.deepcopy(BASE)
    clash["sources"].update(source("raw_orders", "ecom", "raw_customers"))   # schema.table = customers' name
    catalog = PolicyCatalog.build(plan, clash)
    assert catalog.lookup(["ecom", "raw_customers"]) is None
    assert table_of(catalog.lookup(["wh", "ecom", "raw_customers"])) == ("orders", None)   # fully qualified


def test_ambiguous_model_references_resolve_to_nothing(plan):
    twice = copy.deepcopy(BASE)
    twice["nodes"].update(model("loyalty_members", "main_archive", "loyalty_2020", resource_type="seed"))
    catalog = PolicyCatalog.build(plan, twice)                    # two nodes named loyalty_members: no guess
    assert catalog.lookup(["wh", "main_ref_data", "loyalty"]) is None
    assert table_of(catalog.lookup(["loyalty_members"])) == ("loyalty_members", None)


def vl002(catalog, sql):
    linter = Linter(catalog, LintConfig(), "analytics")
    return sorted(f.target.column for f in linter.lint_text(sql, "q.sql") if f.rule == "VL002")


def test_derived_models_by_physical_name_alias_and_schema(plan):
    names = 'select customer_name from "wh"."raw"."raw_customers"'
    emails = 'select email from "wh"."raw"."raw_customers"'
    derived = copy.deepcopy(BASE)
    derived["nodes"].update(model("stg_a", "main", "customers", names))          # alias = a policy table's name
    derived["nodes"].update(model("stg_b", "main_crm", "contacts", emails))
    derived["nodes"].update(model("stg_c", "main_ads", "contacts", names))        # same alias, another schema
    derived["nodes"].update(model("loyalty_members", "main", sql=names))          # the policy table's own model
    catalog = PolicyCatalog.build(plan, derived)
    assert add_dbt_models(catalog, derived, "duckdb") == 3
    assert vl002(catalog, 'select customer_name from "wh"."main"."customers"') == ["customer_name"]
    assert vl002(catalog, "select email from wh.main_crm.contacts") == ["email"]
    assert vl002(catalog, "select customer_name from main_ads.contacts") == ["customer_name"]
    assert vl002(catalog, "select customer_name from contacts") == []             # which contacts? none
    assert vl002(catalog, "select customer_name from other.contacts") == []
    assert table_of(catalog.lookup(["loyalty_members"])) == ("loyalty_members", None)


def test_ephemeral_models_have_no_physical_name(plan):
    ephemeral = copy.deepcopy(BASE)
    ephemeral["nodes"].update(model("stg_e", sql='select customer_name from "wh"."raw"."raw_customers"'))
    node = ephemeral["nodes"]["model.ecom.stg_e.main"]
    node.update(relation_name=None, config={"materialized": "ephemeral"})
    catalog = PolicyCatalog.build(plan, ephemeral)
    assert add_dbt_models(catalog, ephemeral, "duckdb") == 1
    assert catalog.derived["stg_e"].physical is None
    assert vl002(catalog, "select customer_name from stg_e") == ["customer_name"]
