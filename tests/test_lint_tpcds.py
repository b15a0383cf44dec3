"""The linter on SQL nobody here wrote: the 99 TPC-DS queries.

Policies classify the customer tables' PII (tests/fixtures/tpcds/policies.yml).
Every query must parse and be analysed without error, and VL002 must flag
exactly the queries whose result depends on a customer PII column, checked
against an independent, purely textual cross-check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from helpers import load_fixture, write_files
from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.engine import Linter
from veil.policy.load import load_policies

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tpcds"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpora/tpcds")
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="TPC-DS corpus not available")

SPEC = load_fixture("tpcds/policies.yml")
FORBIDDEN = {"c_first_name", "c_last_name", "c_email_address", "c_salutation", "c_birth_day",
             "c_birth_month", "c_birth_country", "c_login", "ca_street_number", "ca_street_name",
             "ca_suite_number", "ca_zip", "cd_credit_rating"}


def _policy(table: str, columns: dict[str, str]) -> str:
    schema = []
    for name, sql_type in columns.items():
        spec = SPEC["classifications"].get(table, {}).get(name, "NON_PII")
        spec = {"classification": spec} if isinstance(spec, str) else dict(spec)
        column = {"name": name, "type": "BIGINT" if "int" in sql_type else "STRING",
                  "pii_classification": spec.pop("classification")}
        if spec:
            column["data_handling"] = spec
        schema.append(column)
    return yaml.safe_dump({"table": table, "relation": f"ref('{table}')", "schema": schema}, sort_keys=False)


@pytest.fixture(scope="module")
def linter(tmp_path_factory):
    schema = json.loads((CORPUS / "schema.json").read_text())
    files = {"policies/veil.yml": SPEC["veil.yml"]}
    for table in SPEC["classifications"]:
        files[f"policies/tables/{table}.yml"] = _policy(table, schema[table])
    project = write_files(tmp_path_factory.mktemp("tpcds"), files)
    return Linter(PolicyCatalog.build(plan_project(load_policies(project))), purpose="analytics")


QUERIES = sorted((CORPUS / "queries").glob("q*.sql"))


def test_all_99_queries_are_present():
    assert len(QUERIES) == 99


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_is_analysed_and_flags_match_a_textual_check(linter, path):
    text = path.read_text()
    findings = linter.lint_text(text, path.name)
    assert not [f for f in findings if f.rule in {"VL900", "VL901"}], findings
    flagged = {re.search(r"\.(\w+) \(", f.message).group(1) for f in findings if f.rule == "VL002"}
    code = re.sub(r"--[^\n]*", "", text).lower()
    mentioned = {c for c in FORBIDDEN if re.search(rf"\b{c}\b", code)}
    # in TPC-DS every forbidden column a query mentions reaches its result
    assert flagged == mentioned, (flagged, mentioned)


def test_some_queries_are_flagged(linter):
    flagged = [p.stem for p in QUERIES
               if any(f.rule == "VL002" for f in linter.lint_text(p.read_text(), p.name))]
    assert len(flagged) >= 10, flagged
