"""Every rule's YAML cases (tests/lint_cases/VL*.yml), run by one parametrized test.

A case is `pass_sql` (no finding of the rule) or `fail_sql` with `findings`:
each expected finding may give `line`, `column` and a `contains` substring
of the message, and the rule must report exactly that many findings.
Cases run against the reference policies with purpose analytics unless they
say `purpose:` (null: none), with `[tool.veil.lint]` settings from `config:`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import REPO

from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.config import LintConfig
from veil.lint.engine import Linter
from veil.lint.rules import RULES

CASES_DIR = Path(__file__).parent / "lint_cases"
LINTER_CATALOG = PolicyCatalog.build(plan_project(__import__("veil.policy.load", fromlist=["x"]).load_policies(REPO)))


def _cases():
    for path in sorted(CASES_DIR.glob("VL*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            yield pytest.param(spec["rule"], case, id=f"{spec['rule']}-{case['name']}")


@pytest.mark.parametrize(("rule", "case"), list(_cases()))
def test_rule_case(rule, case):
    purpose = case.get("purpose", "analytics")
    sql = case.get("fail_sql", case.get("pass_sql"))
    linter = Linter(LINTER_CATALOG, LintConfig(**case.get("config", {})), purpose=purpose)
    found = [f for f in linter.lint_text(sql, "case.sql") if f.rule == rule]
    expected = case.get("findings", []) if "fail_sql" in case else []
    assert len(found) == len(expected), "\n".join(f"{f.location} {f.message}" for f in found)
    for want, got in zip(expected, found):
        if "line" in want:
            assert got.line == want["line"], got
        if "column" in want:
            assert got.column == want["column"], got
        assert want.get("contains", "") in got.message, got


def test_every_rule_has_at_least_eight_cases():
    counts = {}
    for rule, _ in (p.values for p in _cases()):
        counts[rule] = counts.get(rule, 0) + 1
    assert set(counts) == {r.info.code for r in RULES}
    assert min(counts.values()) >= 8, counts


@pytest.mark.parametrize("rule", RULES, ids=[r.info.code for r in RULES])
def test_rule_docstring_has_anti_pattern_and_best_practice(rule):
    assert "Anti-pattern:" in rule.info.description and "Best practice:" in rule.info.description


def test_typical_queries_are_fully_qualified_not_the_fallback():
    """The fallback resolution must stay a fallback: sqlglot qualifies ordinary queries."""
    import sqlglot

    from veil.lint.lineage import analyze

    sql = ("with u as (select * from raw.users), e as (select user_id, ip_address from raw.events) "
           "select u.country, count(e.ip_address) from u join e using (user_id) group by 1")
    query = analyze(sqlglot.parse_one(sql, read="duckdb"), LINTER_CATALOG, "duckdb")
    assert query.qualified
    assert {(u.column, u.clause) for u in query.uses} >= {("country", "select"), ("ip_address", "select")}
