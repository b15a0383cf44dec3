"""Score `veil lint` against the red-team corpus: recall and precision per family and overall.

The corpus (tests/lint_adversarial/corpus.yml) holds queries written the way
someone slipping PII past the linter would, each with the findings a privacy
reviewer expects. An entry is

    {id, family, purpose, sql, expect: [{rule: VL002, table: users, column: email}, ...]}

or, for the deep and wide queries, `generate: <name>` instead of `sql` (see
GENERATORS). An entry may also list `allow`: findings a reviewer accepts but
does not require (what an unanalysed statement reads, for a linter that looks
inside it anyway); they are neither matches nor false positives. The text
linted is `-- veil: purpose=<purpose>` then the SQL, unless the entry says
`header: false` (its SQL then declares the purpose itself, wherever the entry
wants it).

Findings are compared as (rule, table, column) for SCORED_RULES:

- VL002 and VL003 as sets: a column (a table) is flagged or not, however many
  places it is used at;
- VL001, VL901, VL902 and VL903 as multisets: each construct counts once.

VL004 and VL900 are not scored; a VL900 (parse error) on this valid SQL
shows in the per-entry report. Precision is matched / reported, recall is
matched / expected.

    python scripts/bench/lint_adversarial.py [--corpus PATH] [--quiet] [--check]

It prints one line per miss and false positive, then the score table.
`--check` also executes every entry in an in-memory DuckDB warehouse of the
reference policies (see `warehouse` and `execute`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from veil.compile.plan import Action, ProjectPlan, plan_project
from veil.duckdb_functions import register_functions
from veil.lint.catalog import PolicyCatalog
from veil.lint.engine import Linter
from veil.policy.load import load_policies

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "lint_adversarial" / "corpus.yml"
SCORED_RULES = ("VL001", "VL002", "VL003", "VL901", "VL902", "VL903")
AS_SETS = {"VL002", "VL003"}        # flagged or not; the other scored rules count each construct
WAREHOUSE_KEY = bytes(range(32))    # a fixed test key, not a secret

Key = tuple[str, str | None, str | None]   # (rule, table, column)


# ------------------------------------------------------------------ the corpus

def union_all_1001(pii: bool = True) -> str:
    """1,001 UNION ALL branches over the analyst model; the last one reads raw.users.email (by position)."""
    branches = [f"select user_id, country from analyst__users where user_id = {i}" for i in range(1000)]
    last = "select user_id, email from raw.users where user_id = 1000" if pii else \
        "select user_id, country from analyst__users where user_id = 1000"
    return "\nunion all\n".join([*branches, last])


def nested_400(inner: str = "select ssn as x from raw.users") -> str:
    """400 derived tables around `inner`, each passing its one column `x` through."""
    sql = inner
    for depth in range(400):
        sql = f"select x from ({sql}) as t{depth}"
    return sql


def cte_chain_200() -> str:
    """200 CTEs, each renaming the last one's column; the first reads raw.users.phone."""
    ctes = ["c0 as (select user_id, phone as v0 from raw.users)"]
    ctes += [f"c{i} as (select user_id, v{i - 1} as v{i} from c{i - 1})" for i in range(1, 200)]
    return "with " + ",\n".join(ctes) + "\nselect user_id, v199 from c199"


def or_chain_1000() -> str:
    """A WHERE of 1,000 ORs over clean columns, the last one on raw.users.ssn."""
    terms = [f"country = 'c{i}'" for i in range(999)] + ["ssn = '000-00-0000'"]
    return "select count(*) as n from raw.users\nwhere " + "\n   or ".join(terms)


def wide_600(relation: str = "raw.users", pii: str | None = "phone") -> str:
    """600 projections of clean columns of `relation`; number 437 is `pii` (if any)."""
    clean = ("user_id", "gender", "country", "created_at")
    items = [f"{pii if i == 437 and pii else clean[i % 4]} as c{i}" for i in range(600)]
    return "select " + ",\n       ".join(items) + f"\nfrom {relation}"


GENERATORS: dict[str, Callable[[], str]] = {
    "union_all_1001": union_all_1001,
    "union_all_1001_clean": lambda: union_all_1001(pii=False),
    "nested_400": nested_400,
    "nested_400_clean": lambda: nested_400("select country as x from analyst__users"),
    "nested_400_masked": lambda: nested_400("select veil_mask_domain_only(email) as x from raw.users"),
    "cte_chain_200": cte_chain_200,
    "or_chain_1000": or_chain_1000,
    "wide_600": wide_600,
    "wide_600_clean": lambda: wide_600("analyst__users", None),
}


@dataclass(frozen=True)
class Entry:
    """One corpus query and the findings a reviewer expects of it."""

    id: str
    family: str
    purpose: str
    sql: str
    expect: tuple[Key, ...]
    header: bool = True
    allow: tuple[Key, ...] = ()

    @property
    def text(self) -> str:
        """The file veil lints: the purpose comment, then the SQL."""
        return f"-- veil: purpose={self.purpose}\n{self.sql}" if self.header else self.sql


def _key(item: dict) -> Key:
    return item["rule"], item.get("table"), item.get("column")


def load_corpus(path: Path = CORPUS) -> list[Entry]:
    """Every entry of the corpus, generated ones expanded."""
    entries = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
        sql = GENERATORS[item["generate"]]() if "generate" in item else item["sql"]
        entries.append(Entry(item["id"], item["family"], item["purpose"], sql,
                             tuple(_key(e) for e in item.get("expect") or ()), item.get("header", True),
                             tuple(_key(e) for e in item.get("allow") or ())))
    return entries


# ------------------------------------------------------------------ scoring

def reference_plan() -> ProjectPlan:
    return plan_project(load_policies(REPO))


def reference_linter(plan: ProjectPlan | None = None) -> Linter:
    """A linter over the reference policies; each file's purpose comes from its comment."""
    return Linter(PolicyCatalog.build(plan or reference_plan()))


def normalize(keys: Iterable[Key]) -> Counter:
    """The scored findings as a multiset, VL002/VL003 collapsed to one per (table, column)."""
    counted = Counter(k for k in keys if k[0] in SCORED_RULES)
    for key in counted:
        if key[0] in AS_SETS:
            counted[key] = 1
    return counted


@dataclass
class Result:
    """How the linter did on one entry."""

    entry: Entry
    expected: Counter
    reported: Counter
    parse_errors: list[str] = field(default_factory=list)

    @property
    def matched(self) -> Counter:
        return self.expected & self.reported

    @property
    def missed(self) -> Counter:
        return self.expected - self.reported

    @property
    def false_positives(self) -> Counter:
        return self.reported - self.expected


def run_entry(linter: Linter, entry: Entry) -> Result:
    findings = linter.lint_text(entry.text, f"{entry.id}.sql")
    expected = normalize(entry.expect)
    reported = normalize((f.rule, f.target.table, f.target.column) for f in findings)
    for key in set(entry.allow) - set(expected):
        reported.pop(key, None)
    errors = [f"{f.location} {f.message}" for f in findings if f.rule == "VL900"]
    return Result(entry, expected, reported, errors)


def run_corpus(entries: list[Entry], linter: Linter | None = None) -> list[Result]:
    linter = linter or reference_linter()
    return [run_entry(linter, entry) for entry in entries]


@dataclass
class Score:
    entries: int = 0
    expected: int = 0
    reported: int = 0
    matched: int = 0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.reported if self.reported else 1.0

    def add(self, result: Result) -> None:
        self.entries += 1
        self.expected += result.expected.total()
        self.reported += result.reported.total()
        self.matched += result.matched.total()


def scores(results: list[Result]) -> dict[str, Score]:
    """Score per family, in corpus order, and under "overall"."""
    by_family: dict[str, Score] = {}
    overall = Score()
    for result in results:
        by_family.setdefault(result.entry.family, Score()).add(result)
        overall.add(result)
    return {**by_family, "overall": overall}


def _show(key: Key) -> str:
    rule, table, column = key
    return rule + (f" {table}" if table else "") + (f".{column}" if column else "")


def problems(results: list[Result]) -> list[str]:
    """One line per miss and per false positive: `entry-id: missed VL002 users.email`."""
    lines = []
    for result in results:
        for key, count in sorted(result.missed.items(), key=str):
            lines.append(f"{result.entry.id}: missed {_show(key)}" + (f" x{count}" if count > 1 else ""))
        for key, count in sorted(result.false_positives.items(), key=str):
            lines.append(f"{result.entry.id}: false positive {_show(key)}" + (f" x{count}" if count > 1 else ""))
        for error in result.parse_errors:
            lines.append(f"{result.entry.id}: parse error {error[:160]}")
    return lines


def table(score_of: dict[str, Score]) -> str:
    """The score table: one row per family, then overall."""
    header = ("family", "entries", "expected", "reported", "matched", "recall", "precision")
    rows = ["{:<20} {:>7} {:>8} {:>8} {:>7} {:>7} {:>9}".format(*header)]
    for family, s in score_of.items():
        rows.append(f"{family:<20} {s.entries:>7} {s.expected:>8} {s.reported:>8} {s.matched:>7} "
                    f"{s.recall:>7.3f} {s.precision:>9.3f}")
    return "\n".join(rows)


# ------------------------------------------------------------------ the warehouse

DUCKDB_TYPES = {"STRING": "VARCHAR", "DECIMAL": "DECIMAL(12, 2)"}
MACRO_STRATEGIES = {"domain_only", "year_only", "zip3", "hash", "subnet_only", "last4", "redact"}
ROWS = {   # two or three synthetic rows a table, in policy column order
    "users": [(1, "Ada Lovelace", "ada@example.org", "+1 555 0100", "123-45-6789", "1990-12-10", "94107",
               "female", "US", "2024-01-05 10:00:00"),
              (2, "Alan Turing", "alan@example.com", "+44 20 7946 0000", "987-65-4321", "1985-06-23", "10001",
               "male", "GB", "2024-02-11 08:30:00"),
              (3, "Grace Hopper", "grace@navy.example", "+1 555 0199", "555-12-3456", "1970-12-09", "20001",
               "female", "US", "2024-03-01 12:00:00")],
    "events": [(10, 1, "dev-a", "10.0.0.1", "login", None, "2024-05-01 09:00:00"),
               (11, 1, "dev-a", "10.0.0.1", "purchase", 19.99, "2024-05-01 09:05:00"),
               (12, 2, "dev-b", "2001:db8::1", "page_view", None, "2024-05-02 10:00:00")],
    "payments": [(100, 1, "4111111111111111", 19.99, "USD", "2024-05-01 09:05:00"),
                 (101, 2, "5500005555555559", 5.00, "GBP", "2024-05-03 11:00:00")],
}
# Relations that are not policy tables, which some entries write to or read.
SCRATCH = """
create schema sandbox;
create table sandbox.users as select user_id, country from raw.users;
create table marketing_list (id bigint, email varchar);
insert into marketing_list values (1, null), (2, null);
create table t (id bigint, e varchar);
insert into t values (1, 'a'), (3, 'c');
create table countries (country varchar);
create table veil_consent_current (subject varchar, purpose varchar, granted boolean);
insert into veil_consent_current values ('1', 'analytics', true);
create temp table veil_pending (subject varchar);
create temp table veil_audit_batch (subject varchar, action varchar);
"""


def _masked(strategy: str | None, column: str) -> str:
    if strategy in MACRO_STRATEGIES:
        return f"veil_mask_{strategy}({column})"
    return f"'tok_' || right(cast({column} as varchar), 4)"   # keyed strategies: a stand-in token


def warehouse(plan: ProjectPlan | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with schema raw (every policy table, a few rows), the audience models as
    tables of the columns each audience keeps (masked as the plan says), veil's functions and
    temp relations, and the scratch tables of SCRATCH."""
    plan = plan or reference_plan()
    con = duckdb.connect()
    register_functions(con, WAREHOUSE_KEY)
    # the key table older plugins kept (the keyed functions hold their key in Python now): queries
    # reading it must still run, and veil still flags them (VL903)
    con.execute("create temp table veil_hmac_key (ipad blob, opad blob)")
    con.execute("create schema raw")
    for loaded in plan.policies.table_list():
        columns = loaded.policy.columns
        ddl = ", ".join(f"{c.name} {DUCKDB_TYPES.get(c.type.value, c.type.value)}" for c in columns)
        con.execute(f"create table raw.{loaded.name} ({ddl})")
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"insert into raw.{loaded.name} values ({marks})", ROWS[loaded.name])
    for model in plan.models:
        projection = ", ".join(
            (_masked(d.strategy, d.name) if d.action is Action.MASK else d.name) + f" as {d.name}" for d in model.kept)
        con.execute(f"create table {model.name} as select {projection} from raw.{model.table.name}")
    for statement in con.extract_statements(SCRATCH):
        con.execute(statement)
    return con


def execute(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run every statement of `sql` in a transaction that is rolled back, reading each result to the end.

    Files an entry writes (COPY ... TO 'x.csv') land in the working directory.
    """
    con.execute("begin transaction")
    try:
        for statement in con.extract_statements(sql):
            con.execute(statement)
            try:
                con.fetchall()
            except duckdb.InvalidInputError:
                pass   # a statement without a result set
    finally:
        con.execute("rollback")


def check(entries: list[Entry]) -> list[str]:
    """`id: error` for every entry DuckDB refuses (run in a temporary working directory)."""
    con, errors, here = warehouse(), [], os.getcwd()
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)
        try:
            for entry in entries:
                try:
                    execute(con, entry.text)
                except duckdb.Error as exc:
                    errors.append(f"{entry.id}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            os.chdir(here)
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--quiet", action="store_true", help="only the score table")
    parser.add_argument("--check", action="store_true", help="also execute every entry in DuckDB")
    args = parser.parse_args()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)   # its fallback warnings are the linter's business
    entries = load_corpus(args.corpus)
    if args.check:
        errors = check(entries)
        print("\n".join(errors) or f"all {len(entries)} entries execute in DuckDB")
    results = run_corpus(entries)
    if not args.quiet:
        print("\n".join(problems(results)) or "no misses, no false positives")
        print()
    print(table(scores(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
