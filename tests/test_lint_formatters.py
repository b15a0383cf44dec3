"""Each lint output format, checked exactly on one hand-built result."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from helpers import FIXTURES, REPO
from veil import __version__
from veil.errors import UsageError
from veil.lint.findings import Finding, LintResult, RuleInfo, Severity
from veil.lint.formatters import FORMATS, format_result
from veil.lint.formatters.sarif import artifact_uri

HERE = FIXTURES / "lint_formatters"

USERS = "models/users.sql"
ORDERS = "models/orders.sql"
CLEAN = "models/clean.sql"

RULES = [
    RuleInfo("VL001", "select-star", "Avoid SELECT * in a projection.",
             "Anti-pattern: select * from t\nBest practice: select a, b from t"),
    RuleInfo("VL002", "pii-disallowed-use", "A column is used for a purpose its policy disallows.",
             "Anti-pattern: select email from users"),
    RuleInfo("VL004", "unclassified-column", "A policy column has no classification.", "",
             Severity.WARNING),
]


def make_result() -> LintResult:
    """Two files with findings (one with a tab before the column), one clean."""
    findings = [
        Finding(USERS, 4, 8, "VL002", "pii-disallowed-use", Severity.ERROR,
                "users.email (DIRECT_PII) is not allowed for purpose 'analytics'"),
        Finding(ORDERS, 2, 2, "VL002", "pii-disallowed-use", Severity.WARNING,
                "orders.customer_email: not allowed, 100%\nsee the policy"),
        Finding(USERS, 2, 12, "VL001", "select-star", Severity.ERROR, "SELECT * in a projection"),
    ]
    sources = {
        USERS: "with u as (\n    select * from raw.users\n)\nselect email, id from u\n",
        ORDERS: "select\n\tcustomer_email,\n    amount\nfrom orders\n",
        CLEAN: "select id from users\n",
    }
    return LintResult(findings, [USERS, ORDERS, CLEAN], sources, RULES)


def expected(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


# --- human ---------------------------------------------------------------------------

def test_human_matches_snapshot():
    assert format_result(make_result(), "human") == expected("expected_human.txt")


def test_human_caret_sits_under_the_column():
    lines = format_result(make_result(), "human").splitlines()
    assert "    with u as (" not in lines  # only the offending line is shown
    source_line = lines.index("        select * from raw.users")
    caret_line = lines[source_line + 1]
    assert caret_line.index("^") == lines[source_line].index("*")


def test_human_keeps_tabs_so_the_caret_aligns():
    lines = format_result(make_result(), "human").splitlines()
    assert lines[lines.index("    \tcustomer_email,") + 1] == "    \t^"


def test_human_without_source_shows_only_the_finding():
    result = make_result()
    result.sources = {}
    text = format_result(result, "human")
    assert "^" not in text
    assert text.splitlines()[0] == f"{ORDERS}:2:2: VL002 orders.customer_email: not allowed, 100% see the policy"


def test_human_summary_when_clean():
    assert format_result(LintResult(files=[CLEAN, USERS]), "human") == "no findings in 2 files\n"


def test_human_color_is_off_by_default_and_on_when_asked():
    assert "\033[" not in format_result(make_result(), "human")
    colored = format_result(make_result(), "human", color=True)
    assert "\033[31mVL001\033[0m" in colored          # errors red
    assert "\033[33mVL002\033[0m" in colored          # warnings yellow


# --- json ----------------------------------------------------------------------------

def test_json_round_trips_with_documented_keys():
    text = format_result(make_result(), "json")
    data = json.loads(text)
    assert list(data) == ["findings", "summary"]
    assert [list(f) for f in data["findings"]] == [
        ["rule", "name", "severity", "path", "line", "column", "message", "target"]] * 3
    assert data["findings"][0] == {
        "rule": "VL002", "name": "pii-disallowed-use", "severity": "warning", "path": ORDERS,
        "line": 2, "column": 2, "message": "orders.customer_email: not allowed, 100%\nsee the policy",
        "target": {"table": None, "column": None, "purpose": None}}
    assert [(f["path"], f["line"]) for f in data["findings"]] == [(ORDERS, 2), (USERS, 2), (USERS, 4)]
    assert data["summary"] == {"files": 3, "findings": 3, "by_rule": {"VL001": 1, "VL002": 2},
                               "by_severity": {"error": 2, "warning": 1}}
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- github --------------------------------------------------------------------------

def test_github_commands_match_snapshot():
    assert format_result(make_result(), "github") == expected("expected_github.txt")


def test_github_escapes_properties_and_message():
    finding = Finding("dir,a:b/q%.sql", 1, 1, "VL001", "select-star", Severity.ERROR,
                      "line one,\r\nline: two 50%")
    line = format_result(LintResult([finding]), "github")
    assert line == ("::error file=dir%2Ca%3Ab/q%25.sql,line=1,col=1,title=VL001 select-star"
                    "::line one,%0D%0Aline: two 50%25\n")
    assert line.count("\n") == 1


def test_github_prints_nothing_when_clean():
    assert format_result(LintResult(files=[CLEAN]), "github") == ""


# --- junit ---------------------------------------------------------------------------

def test_junit_parses_with_correct_counts():
    root = ET.fromstring(format_result(make_result(), "junit"))
    assert root.tag == "testsuite"
    assert root.get("name") == "veil lint"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert list(cases) == [USERS, ORDERS, CLEAN]
    assert all(case.get("classname") == name for name, case in cases.items())
    assert [f.get("type") for f in cases[USERS].iter("failure")] == ["VL001", "VL002"]
    assert [f.get("type") for f in cases[ORDERS].iter("failure")] == ["VL002"]
    assert list(cases[CLEAN].iter("failure")) == []
    failure = next(cases[ORDERS].iter("failure"))
    assert failure.get("message") == "orders.customer_email: not allowed, 100%\nsee the policy"
    assert failure.text.startswith(f"{ORDERS}:2:2: VL002 pii-disallowed-use: ")


def test_junit_counts_a_finding_in_an_unlisted_file_and_survives_control_characters():
    finding = Finding("other.sql", 1, 1, "VL900", "parse-error", Severity.ERROR, "bad byte \x00 here")
    root = ET.fromstring(format_result(LintResult([finding], files=[CLEAN]), "junit"))
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    assert "\x00" not in next(root.iter("failure")).get("message")


def test_junit_matches_snapshot():
    assert format_result(make_result(), "junit") == expected("expected_junit.xml")


# --- sarif ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads((HERE / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("result", [make_result(), LintResult(files=[CLEAN], rules=RULES), LintResult()],
                         ids=["findings", "clean", "empty"])
def test_sarif_is_valid_against_the_official_schema(sarif_validator, result):
    log = json.loads(format_result(result, "sarif"))
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_sarif_schema_catches_a_broken_log(sarif_validator):
    log = json.loads(format_result(make_result(), "sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert not sarif_validator.is_valid(log)


def test_sarif_describes_the_tool_and_its_rules():
    log = json.loads(format_result(make_result(), "sarif"))
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("veil", __version__)
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["VL001", "VL002", "VL004"]
    assert driver["rules"][2] == {
        "id": "VL004", "name": "unclassified-column",
        "shortDescription": {"text": "A policy column has no classification."},
        "fullDescription": {"text": "A policy column has no classification."},
        "defaultConfiguration": {"level": "warning"}}
    assert driver["rules"][0]["fullDescription"]["text"] == RULES[0].description


def test_sarif_results_point_at_their_rules_with_relative_uris():
    run = json.loads(format_result(make_result(), "sarif"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == 3
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not uri.startswith("/") and "://" not in uri
    first = run["results"][0]
    assert (first["ruleId"], first["level"]) == ("VL002", "warning")
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ORDERS
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 2}
    assert [a["location"]["uri"] for a in run["artifacts"]] == [USERS, ORDERS, CLEAN]


def test_sarif_lists_a_rule_that_only_a_finding_names():
    finding = Finding("q.sql", 1, 1, "VL900", "parse-error", Severity.ERROR, "cannot parse")
    run = json.loads(format_result(LintResult([finding], ["q.sql"], rules=RULES[:1]), "sarif"))["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["VL001", "VL900"]
    assert run["results"][0]["ruleIndex"] == 1


def test_sarif_makes_absolute_paths_relative(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    absolute = str(tmp_path / "models" / "q.sql")
    finding = Finding(absolute, 1, 1, "VL001", "select-star", Severity.ERROR, "SELECT *")
    run = json.loads(format_result(LintResult([finding], [absolute], rules=RULES), "sarif"))["runs"][0]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/q.sql"
    assert artifact_uri("/elsewhere/q.sql", cwd=Path("/repo")) == "../elsewhere/q.sql"


# --- dispatch ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_result(fmt):
    assert isinstance(format_result(LintResult(), fmt), str)


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="human, json, sarif, github, junit"):
        format_result(LintResult(), "xml")


def test_findings_carry_a_structured_target_in_json_and_sarif():
    from veil.compile.plan import plan_project
    from veil.lint.catalog import PolicyCatalog
    from veil.lint.engine import Linter
    from veil.lint.findings import LintResult
    from veil.policy.load import load_policies

    linter = Linter(PolicyCatalog.build(plan_project(load_policies(REPO))), purpose="analytics")
    findings = linter.lint_text("select ssn, country from raw.users", "q.sql")
    result = LintResult(findings=findings, files=["q.sql"], rules=linter.rule_infos)
    targets = {(f["rule"], json.dumps(f["target"], sort_keys=True)) for f in json.loads(format_result(result, "json"))["findings"]}
    assert ("VL002", json.dumps({"column": "ssn", "purpose": "analytics", "table": "users"}, sort_keys=True)) in targets
    assert ("VL003", json.dumps({"column": None, "purpose": "analytics", "table": "users"}, sort_keys=True)) in targets
    sarif = json.loads(format_result(result, "sarif"))
    assert {"table": "users", "column": "ssn", "purpose": "analytics"} in [
        r["properties"]["target"] for r in sarif["runs"][0]["results"]]
