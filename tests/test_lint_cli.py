"""`veil lint` from the command line: inputs, exit codes, outputs, jobs, config."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from helpers import REPO, write_files
from veil.cli import main

FILES = {
    "queries/clean.sql": "-- veil: purpose=analytics\nselect country, count(*) from analyst__users group by country\n",
    "queries/star.sql": "-- veil: purpose=analytics\nselect * from analyst__users\n",
    "queries/pii.sql": "-- veil: purpose=analytics\nselect user_id, ssn\nfrom raw.users\n",
    "queries/broken.sql": "select (1 from\n",
}


@pytest.fixture()
def project(tmp_path, monkeypatch):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    write_files(tmp_path, FILES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(*args):
    return CliRunner().invoke(main, ["lint", *args])


def test_clean_file_exits_0(project):
    result = lint("queries/clean.sql")
    assert result.exit_code == 0, result.output
    assert "no findings in 1 file\n" in result.output


def test_findings_exit_1_with_every_rule(project):
    result = lint("queries", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    rules = {(f["path"], f["rule"]) for f in report["findings"]}
    assert ("queries/star.sql", "VL001") in rules
    assert ("queries/pii.sql", "VL002") in rules and ("queries/pii.sql", "VL003") in rules
    assert ("queries/broken.sql", "VL900") in rules
    assert report["summary"]["files"] == 4


def test_human_output_shows_the_offending_line(project):
    result = lint("queries/pii.sql")
    assert "queries/pii.sql:2:17: VL002 users.ssn" in result.output
    assert "    select user_id, ssn\n                    ^" in result.output


def test_output_file_and_jobs_give_the_same_report(project):
    assert lint("queries", "--format", "sarif", "--output", "one.sarif", "--jobs", "1").exit_code == 1
    assert lint("queries", "--format", "sarif", "--output", "two.sarif", "--jobs", "2").exit_code == 1
    assert (project / "one.sarif").read_text() == (project / "two.sarif").read_text()
    sarif = json.loads((project / "one.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"VL001", "VL002", "VL003", "VL900"}


def test_usage_errors_exit_2(project):
    assert lint("missing.sql").exit_code == 2
    assert lint().exit_code == 2                                   # nothing to lint, no manifest
    unknown = lint("queries", "--purpose", "advertising")
    assert unknown.exit_code == 2 and "not declared" in unknown.output


def test_config_disables_rules_and_sets_severity(project):
    (project / "pyproject.toml").write_text(
        '[tool.veil.lint]\ndisable = ["VL001", "VL003"]\nseverity = { VL002 = "warning" }\nexclude = ["queries/broken.sql"]\n')
    result = lint("queries", "--format", "json")
    report = json.loads(result.output)
    assert {f["rule"] for f in report["findings"]} == {"VL002"}
    assert {f["severity"] for f in report["findings"]} == {"warning"}
    assert result.exit_code == 0                                   # warnings do not fail the run


def test_bad_config_exits_2(project):
    (project / "pyproject.toml").write_text('[tool.veil.lint]\ndisable = ["VL999"]\n')
    result = lint("queries")
    assert result.exit_code == 2 and "pyproject.toml:2: tool.veil.lint.disable" in result.output


def test_purpose_option_overrides_the_comment(project):
    result = lint("queries/pii.sql", "--purpose", "customer_support", "--format", "json")
    messages = [f["message"] for f in json.loads(result.output)["findings"] if f["rule"] == "VL002"]
    assert messages and all("only through veil_mask_encrypt()" in m for m in messages)
