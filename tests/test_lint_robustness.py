"""A bad SQL file is a finding, never a crash: fuzzed and malformed inputs.

Hypothesis feeds the engine several hundred inputs: random text, random
tokens of SQL, and valid queries with characters cut, duplicated or swapped.
Every call must return findings (possibly none) without raising.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO
from veil.compile.plan import plan_project
from veil.lint.catalog import PolicyCatalog
from veil.lint.engine import Linter
from veil.policy.load import load_policies

LINTER = Linter(PolicyCatalog.build(plan_project(load_policies(REPO))), purpose="analytics")

SEEDS = [
    "with u as (select * from raw.users) select veil_mask_hash(email), count(*) over (partition by name) from u",
    "select p.amount from raw.payments p join raw.users u on u.user_id = p.user_id where u.ssn like '1%'",
    "select user_id from raw.users union all select user_id from analyst__users order by 1 limit 5",
    "select * exclude (email) from analyst__users where exists (select 1 from raw.events e where e.user_id = 1)",
    "select case when x > 1 then 'a' else 'b' end, sum(amount) filter (where y) from raw.events group by all",
]
TOKENS = ["select", "from", "where", "join", "on", "(", ")", ",", "*", "with", "as", "union", "all", "over",
          "partition", "by", "email", "raw.users", "u.", "'", '"', ";", "--", "/*", "*/", "{{", "}}", "1", "exists",
          "group", "order", "having", "qualify", "exclude", "case", "when", "end", "::", "[", "]", "{", "}", "\n"]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lint(text: str) -> None:
    findings = LINTER.lint_text(text, "fuzz.sql")
    for finding in findings:
        assert finding.line >= 1 and finding.column >= 1 and finding.message


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_crashes(text):
    _lint(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_random_sql_tokens_never_crash(text):
    _lint(text)


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_queries_never_crash(seed, data):
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["cut", "dup", "insert"]))
        if kind == "cut":
            text = text[:at] + text[at + data.draw(st.integers(1, 8)):]
        elif kind == "dup":
            text = text[:at] + text[at:at + 6] + text[at:]
        else:
            text = text[:at] + data.draw(st.sampled_from(TOKENS)) + text[at:]
    _lint(text)


def test_deeply_nested_input_is_a_finding():
    findings = LINTER.lint_text("select " + "(" * 5000 + "1" + ")" * 5000, "deep.sql")
    assert all(f.rule == "VL900" for f in findings)


def test_binary_garbage_is_a_finding():
    text = bytes(range(256)).decode("latin-1")
    assert all(f.rule == "VL900" for f in LINTER.lint_text(text, "garbage.sql"))


def _nested(depth: int, column: str) -> str:
    sql = f"select {column} from raw.users"
    for level in range(depth):
        sql = f"select {column} from ({sql}) t{level}"
    return sql


def test_a_thousand_and_one_branch_union_is_analysed_not_a_parse_error():
    branches = [f"select user_id, country from analyst__users where user_id = {i}" for i in range(1000)]
    sql = "\nunion all\n".join([*branches, "select user_id, ssn from raw.users"])
    rules = [(f.rule, f.line) for f in LINTER.lint_text(sql, "wide.sql")]
    assert ("VL002", 2001) in rules and "VL900" not in {rule for rule, _ in rules}
    clean = "\nunion all\n".join([*branches, "select user_id, country from analyst__users"])
    assert LINTER.lint_text(clean, "wide.sql") == []


def test_subqueries_nested_four_hundred_deep_are_analysed():
    leaking = [f.rule for f in LINTER.lint_text(_nested(400, "ssn"), "deep.sql")]
    assert "VL002" in leaking and "VL900" not in leaking
    assert {f.rule for f in LINTER.lint_text(_nested(400, "user_id"), "deep.sql")} == {"VL003"}
