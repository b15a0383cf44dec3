"""Property: erasing one subject through declared subjects and `via` chains loses nobody else's row.

Random shops: a subject table whose key may be called `id`, `customer_id` or
`user_id`; orders keyed by their own `id`; payments reaching the subject only
through `order_id`; optionally refunds through `payment_id` (three hops).
Every table's `id` starts at 1, so ids collide across tables on purpose:
a name match would delete other people's rows. The expected owner of every
row is computed here, independently of veil.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import TEST_KEY_HEX, write_files
from veil.erasure.run import run_erasure
from veil.project import Project

VEIL_YML = """version: 1
purposes: {analytics: {consent: opt_out}}
audiences: {analyst: {purpose: analytics}}
erasure: {relation: "source('shop', 'erasure_requests')", subject: who, requested_at: asked_at, request_id: rid}
"""


def _policy(table: str, subject: str, columns: list[str]) -> str:
    schema = "\n".join(f"  - {{name: {c}, type: BIGINT, pii_classification: NON_PII}}" for c in columns)
    return f"""table: {table}
relation: "source('shop', '{table}')"
subject: {subject}
schema:
{schema}
  - {{name: note, type: STRING, pii_classification: DIRECT_PII}}
"""


@st.composite
def shops(draw):
    customers = draw(st.integers(3, 12))
    key = draw(st.sampled_from(["id", "customer_id", "user_id"]))
    orders = [(i + 1, draw(st.integers(1, customers))) for i in range(draw(st.integers(0, 15)))]
    payments = [(i + 1, draw(st.integers(1, len(orders)))) for i in range(draw(st.integers(0, 15)))] if orders else []
    refunds = ([(i + 1, draw(st.integers(1, len(payments)))) for i in range(draw(st.integers(0, 8)))]
               if payments and draw(st.booleans()) else None)
    erased = draw(st.integers(1, customers))
    return customers, key, orders, payments, refunds, erased


def _owners(customers, orders, payments, refunds):
    order_owner = dict(orders)
    payment_owner = {p: order_owner[o] for p, o in payments}
    tables = {"customers": {c: c for c in range(1, customers + 1)}, "orders": order_owner, "payments": payment_owner}
    if refunds is not None:
        tables["refunds"] = {r: payment_owner[p] for r, p in refunds}
    return tables


def _build(root: Path, shop) -> Path:
    customers, key, orders, payments, refunds, erased = shop
    files = {"dbt_project.yml": "name: shop\nprofile: shop\n", "policies/veil.yml": VEIL_YML,
             "policies/tables/customers.yml": _policy("customers", key, [key]),
             "policies/tables/orders.yml": _policy("orders", "customer_id", ["id", "customer_id"]),
             "policies/tables/payments.yml": _policy(
                 "payments", "{via: order_id, relation: \"source('shop', 'orders')\", key: id}", ["id", "order_id"])}
    if refunds is not None:
        files["policies/tables/refunds.yml"] = _policy(
            "refunds", "{via: payment_id, relation: \"source('shop', 'payments')\", key: id}", ["id", "payment_id"])
    write_files(root, files)
    database = root / "wh.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA shop")
        con.execute(f"CREATE TABLE shop.customers AS SELECT range + 1 AS {key}, 'person ' || (range + 1) AS note "
                    f"FROM range({customers})")
        for table, rows, columns in (("orders", orders, "id BIGINT, customer_id BIGINT"),
                                     ("payments", payments, "id BIGINT, order_id BIGINT"),
                                     ("refunds", refunds, "id BIGINT, payment_id BIGINT")):
            if rows is None:
                continue
            con.execute(f"CREATE TABLE shop.{table} ({columns}, note VARCHAR)")
            if rows:
                con.executemany(f"INSERT INTO shop.{table} VALUES (?, ?, 'x')", rows)
        con.execute("CREATE TABLE shop.erasure_requests (rid BIGINT, who BIGINT, asked_at TIMESTAMP)")
        con.execute("INSERT INTO shop.erasure_requests VALUES (1, ?, TIMESTAMP '2026-11-01')", [erased])
    return database


def _counts(database: Path, owners: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    """Per table, rows per true owner, read from the warehouse by each row's own key."""
    keys = {"customers": None, "orders": "id", "payments": "id", "refunds": "id"}
    found = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for table, owner in owners.items():
            column = keys[table] or con.execute(f"SELECT column_name FROM information_schema.columns WHERE "
                                                f"table_name = '{table}' ORDER BY ordinal_position").fetchall()[0][0]
            counts: dict[int, int] = {}
            for (row_key,) in con.execute(f'SELECT "{column}" FROM shop.{table}').fetchall():
                counts[owner[row_key]] = counts.get(owner[row_key], 0) + 1
            found[table] = counts
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shop=shops())
def test_erasing_one_subject_removes_exactly_their_rows_in_every_table(tmp_path_factory, shop):
    root = tmp_path_factory.mktemp("shop")
    database = _build(root, shop)
    owners = _owners(*shop[:1], *shop[2:5])
    before = _counts(database, owners)
    env = {"VEIL_KEY": TEST_KEY_HEX}
    result = run_erasure(Project.load(root, env=env, database=database))
    assert result.completed == ["1"], [(o.system.name, o.system.kind, o.note) for o in result.outcomes]
    after = _counts(database, owners)
    erased = shop[5]
    for table in owners:
        assert after[table].get(erased, 0) == 0, table
        assert {k: v for k, v in after[table].items()} == {k: v for k, v in before[table].items() if k != erased}, table
