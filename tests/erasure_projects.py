"""Throwaway dbt projects for erasure tests: copy a fixture project, build it, erase, count rows per true subject.

The fixture projects live in tests/fixtures/projects/<name>/. Who a row
belongs to is the test's own knowledge, never veil's: each project's spec
says which column of each relation holds which kind of key (a customer id, an
order id...), and the keys are mapped to their subject through the joins of
the project's pristine data files, read from the fixture (not from the copy,
which `veil erase` rewrites). Every table, view and seed of the warehouse must
be attributable; one the spec does not know fails the count, so a new table
can never be skipped silently.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dbt_runner import BIN, env_for
from helpers import FIXTURES

PROJECTS = FIXTURES / "projects"
Keys = dict[str, dict[str, int]]                # key kind -> key value (as text) -> subject
Rule = tuple[str, str]                          # (column, key kind)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _md5(value: object) -> str:
    return hashlib.md5(str(value).encode()).hexdigest()


def classic_shop_keys(fixture: Path) -> Keys:
    customers = {row["id"]: int(row["id"]) for row in _csv_rows(fixture / "seeds/raw_customers.csv")}
    orders = {row["id"]: int(row["user_id"]) for row in _csv_rows(fixture / "seeds/raw_orders.csv")}
    payments = {row["id"]: orders[row["order_id"]] for row in _csv_rows(fixture / "seeds/raw_payments.csv")}
    return {"customer": customers, "order": orders, "payment": payments,
            "customer_md5": {_md5(c): c for c in customers.values()}}


def renamed_source_keys(fixture: Path) -> Keys:
    clients = {row["id"]: int(row["id"]) for row in _csv_rows(fixture / "ingest_data/client_accounts.csv")}
    invoices = {row["invoice_id"]: int(row["client_id"])
                for row in _csv_rows(fixture / "ingest_data/invoice_headers.csv")}
    lines = {row["line_id"]: invoices[row["invoice_id"]]
             for row in _csv_rows(fixture / "ingest_data/invoice_items.csv")}
    return {"client": clients, "invoice": invoices, "line": lines}


@dataclass(frozen=True)
class ProjectSpec:
    """What the tests know about a fixture project, independently of veil."""

    name: str
    erased: int                                 # the subject the tests erase
    registry: str                               # schema.table of the erasure registry (kept by erasure)
    registry_seed: str                          # its seed name
    request_row: Callable[[str, int], str]      # CSV line of a new request
    keys: Callable[[Path], Keys]
    tables: dict[str, Rule]                     # schema.table -> rule, checked first
    columns: list[Rule]                         # then the first of these columns a relation has
    seed_files: dict[str, Rule]                 # seed CSV (relative path) -> rule
    kept: list[tuple[str, str, int]] = field(default_factory=list)   # (relation, column, value): others' rows
    gone: list[tuple[str, str, int]] = field(default_factory=list)   # (relation, column, value): the subject's

    @property
    def fixture(self) -> Path:
        return PROJECTS / self.name


CLASSIC_SHOP = ProjectSpec(
    name="classic_shop",
    erased=7,
    registry="main.erasure_requests",
    registry_seed="erasure_requests",
    request_row=lambda request_id, subject: f"{request_id},{subject},2025-01-15 10:00:00",
    keys=classic_shop_keys,
    tables={"main.raw_customers": ("id", "customer"), "main.raw_orders": ("user_id", "customer"),
            "main.raw_payments": ("id", "payment"), "main.customer_fingerprints": ("customer_hash", "customer_md5")},
    columns=[("customer_id", "customer"), ("subject", "customer"), ("payment_id", "payment"), ("order_id", "order")],
    seed_files={"seeds/raw_customers.csv": ("id", "customer"), "seeds/raw_orders.csv": ("user_id", "customer"),
                "seeds/raw_payments.csv": ("id", "payment"), "seeds/consent_events.csv": ("customer_id", "customer")},
    # order 7 and payment 7 are other customers'; orders 12 and 33 are customer 7's, customers 12 and 33 are not
    kept=[("main.raw_orders", "id", 7), ("main.stg_orders", "order_id", 7), ("main.orders", "order_id", 7),
          ("main.raw_payments", "id", 7), ("main.stg_payments", "payment_id", 7),
          ("main.raw_customers", "id", 12), ("main.raw_customers", "id", 33), ("main.customers", "customer_id", 12)],
    gone=[("main.raw_customers", "id", 7), ("main.raw_orders", "id", 12), ("main.raw_orders", "id", 33),
          ("main.raw_orders", "id", 61), ("main.raw_payments", "order_id", 12), ("main.orders", "order_id", 33),
          ("main.customers", "customer_id", 7)],
)

RENAMED_SOURCE = ProjectSpec(
    name="renamed_source",
    erased=5,
    registry="main.forget_requests",
    registry_seed="forget_requests",
    request_row=lambda request_id, subject: f"{request_id},{subject},2025-02-01 08:00:00",
    keys=renamed_source_keys,
    tables={"ingest.client_accounts": ("id", "client"), "main.analyst__clients": ("id", "client"),
            "main.marketing__clients": ("id", "client"), "main.client_revenue": ("client_key", "client"),
            "main.invoice_line_facts": ("billed_to", "client")},       # its `id` is a line id
    columns=[("client_id", "client"), ("subject", "client"), ("customer_id", "client"), ("invoice_id", "invoice"),
             ("line_id", "line")],
    seed_files={"seeds/client_consents.csv": ("client_id", "client")},
    # invoice 5 and line 5 are other clients'; invoices 9 and 27 are client 5's, clients 9 and 27 are not
    kept=[("ingest.invoice_headers", "invoice_id", 5), ("ingest.invoice_items", "line_id", 5),
          ("main.invoice_line_facts", "id", 5), ("ingest.client_accounts", "id", 9),
          ("ingest.client_accounts", "id", 27), ("main.client_revenue", "client_key", 9)],
    gone=[("ingest.client_accounts", "id", 5), ("ingest.invoice_headers", "invoice_id", 9),
          ("ingest.invoice_headers", "invoice_id", 27), ("main.client_revenue", "client_key", 5)],
)

SPECS = {spec.name: spec for spec in (CLASSIC_SHOP, RENAMED_SOURCE)}


def run_in(tool: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`dbt ...` or `veil ...` with `cwd` as the working directory; output captured as text."""
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"


@dataclass
class ShopProject:
    """A copy of a fixture project in a temporary directory, with its warehouse beside it."""

    spec: ProjectSpec
    path: Path
    warehouse: Path
    env: dict[str, str]

    def dbt(self, *args: str) -> subprocess.CompletedProcess:
        result = run_in("dbt", list(args), self.path, self.env)
        assert result.returncode == 0, f"dbt {' '.join(args)} failed in {self.path}:\n{_output(result)}"
        return result

    def veil(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """`veil <args> --project-dir P`, run from `cwd` (default: the project itself)."""
        return run_in("veil", [*args, "--project-dir", str(self.path)], cwd or self.path, self.env)

    def build(self) -> None:
        """Load the raw data another tool would load, compile the policies, seed and build."""
        setup = self.path / "setup_ingest.sql"
        if setup.is_file():
            with duckdb.connect(str(self.warehouse)) as con:
                con.execute(f"SET file_search_path = '{self.path.as_posix()}'")
                con.execute(setup.read_text(encoding="utf-8"))
        compiled = self.veil("compile")
        assert compiled.returncode == 0, f"veil compile failed:\n{_output(compiled)}"
        self.dbt("seed")
        self.dbt("build")

    def request_erasure(self, subject: int, request_id: str) -> None:
        """A new row in the registry seed's CSV, loaded with `dbt seed`."""
        registry = self.path / "seeds" / f"{self.spec.registry_seed}.csv"
        with registry.open("a", encoding="utf-8") as handle:
            handle.write(self.spec.request_row(request_id, subject) + "\n")
        self.dbt("seed", "--select", self.spec.registry_seed)

    def rebuild(self) -> None:
        self.dbt("seed")
        self.dbt("build")

    def row_counts(self) -> Counter:
        return row_counts(self.warehouse, self.spec)

    def seed_file_counts(self) -> Counter:
        return seed_file_counts(self.path, self.spec)


def copy_project(name: str, tmp_path: Path, overlay: str | None = None) -> ShopProject:
    """The fixture project `name` copied to tmp_path/name (plus the files of fixture folder `overlay`)."""
    spec = SPECS[name]
    path = tmp_path / name
    shutil.copytree(spec.fixture, path, ignore=shutil.ignore_patterns("target", "logs", ".veil", "*.duckdb*"))
    if overlay is not None:
        shutil.copytree(PROJECTS / overlay, path, dirs_exist_ok=True)
    warehouse = tmp_path / f"{name}.duckdb"
    return ShopProject(spec, path, warehouse, env_for(path, warehouse))


def _relations(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                       "WHERE table_catalog = current_database() ORDER BY table_schema, table_name, "
                       "ordinal_position").fetchall()
    relations: dict[str, list[str]] = {}
    for schema, table, column in rows:
        relations.setdefault(f"{schema}.{table}", []).append(column)
    return relations


def rule_for(spec: ProjectSpec, relation: str, columns: list[str]) -> Rule:
    if relation in spec.tables:
        return spec.tables[relation]
    rule = next(((c, kind) for c, kind in spec.columns if c in columns), None)
    assert rule is not None, (f"the test does not know whose rows {relation} holds (columns {columns}): "
                              f"add it to the {spec.name} spec in tests/erasure_projects.py")
    return rule


def _subject(keys: dict[str, int], value: object) -> int | str | None:
    if value is None:
        return None
    return keys.get(str(value), f"unknown key {value!r}")


def row_counts(warehouse: Path, spec: ProjectSpec) -> Counter:
    """(schema.table, true subject) -> rows, for every table, view and seed of the warehouse."""
    keys = spec.keys(spec.fixture)
    counts: Counter = Counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for relation, columns in _relations(con).items():
            column, kind = rule_for(spec, relation, columns)
            schema, table = relation.split(".", 1)
            rows = con.execute(f'SELECT "{column}", count(*) FROM "{schema}"."{table}" GROUP BY 1').fetchall()
            for value, count in rows:
                counts[relation, _subject(keys[kind], value)] += count
    return counts


def seed_file_counts(project: Path, spec: ProjectSpec) -> Counter:
    """(seed file, true subject) -> CSV rows, for the seed files that hold subjects (the registry aside)."""
    keys = spec.keys(spec.fixture)
    counts: Counter = Counter()
    for relative, (column, kind) in spec.seed_files.items():
        for row in _csv_rows(project / relative):
            counts[relative, _subject(keys[kind], row[column] or None)] += 1
    return counts


def rows_with(warehouse: Path, relation: str, column: str, value: object) -> int:
    schema, table = relation.split(".", 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" = ?', [value]).fetchone()[0]


def of_subject(counts: Counter, subject: int) -> dict:
    """The non-zero counts of one subject."""
    return {key: n for key, n in counts.items() if key[1] == subject and n}


def others_changed(before: Counter, after: Counter, erased: int) -> dict:
    """(relation, subject) -> (rows before, rows after), for every subject but `erased` whose count changed."""
    return {key: (before.get(key, 0), after.get(key, 0)) for key in sorted(set(before) | set(after), key=str)
            if key[1] != erased and before.get(key, 0) != after.get(key, 0)}
