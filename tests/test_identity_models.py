"""The identity graph in audience models and `veil access`: child tables filtered through their parent.

`payments` in classic_shop has no customer column: it reaches its subject through
`order_id -> stg_orders.customer_id`. Its audience models must apply the
consent and erasure filters of that customer (a `marketing__payments` row of a
customer who never opted in is a leak), and `veil access` must list the
payments of the customer asking. Expected owners come from the fixture's CSVs.
"""

from __future__ import annotations

import csv
import json

import duckdb
import pytest

from erasure_projects import copy_project

pytestmark = pytest.mark.dbt


def _csv(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    project = copy_project("classic_shop", tmp_path_factory.mktemp("models"))
    project.build()
    seeds = project.path / "seeds"
    order_owner = {int(r["id"]): int(r["user_id"]) for r in _csv(seeds / "raw_orders.csv")}
    payment_owner = {int(r["id"]): order_owner[int(r["order_id"])] for r in _csv(seeds / "raw_payments.csv")}
    latest: dict[tuple[int, str], tuple[str, bool]] = {}
    for row in _csv(seeds / "consent_events.csv"):
        key = (int(row["customer_id"]), row["purpose"])
        if key not in latest or row["recorded_at"] > latest[key][0]:
            latest[key] = (row["recorded_at"], row["granted"] == "true")
    opted_in = {c for (c, purpose), (_, granted) in latest.items() if purpose == "marketing" and granted}
    opted_out = {c for (c, purpose), (_, granted) in latest.items() if purpose == "analytics" and not granted}
    return project, payment_owner, opted_in, opted_out


def _payments(project, model):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return [r[0] for r in con.execute(f"SELECT payment_id FROM main.{model}").fetchall()]


def test_marketing_payments_hold_only_payments_of_customers_who_opted_in(shop):
    project, owner, opted_in, _ = shop
    shown = _payments(project, "marketing__payments")
    assert opted_in and any(owner[p] in opted_in for p in owner)            # the control: some qualify
    assert {owner[p] for p in shown} <= opted_in
    assert sorted(shown) == sorted(p for p in owner if owner[p] in opted_in)  # and none of theirs is lost


def test_analyst_payments_exclude_opted_out_and_erased_customers(shop):
    project, owner, _, opted_out = shop
    erased = next(c for c in sorted(set(owner.values())) if c not in opted_out)
    project.request_erasure(erased, "req-models")
    project.dbt("build", "--select", "analyst__payments")
    shown = _payments(project, "analyst__payments")
    assert erased not in {owner[p] for p in shown} and not opted_out & {owner[p] for p in shown}
    assert sorted(shown) == sorted(p for p in owner if owner[p] not in opted_out | {erased})


def test_access_lists_the_payments_a_customer_reaches_through_their_orders(shop, tmp_path):
    project, owner, _, _ = shop
    subject = max(set(owner.values()), key=lambda c: sum(1 for p in owner if owner[p] == c))
    out = tmp_path / "access.json"
    result = project.veil("access", "--subject", str(subject), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    tables = {t["table"]: t for t in json.loads(out.read_text())["tables"]}
    listed = sorted(row["values"]["payment_id"] for row in tables["payments"]["rows"])
    assert listed == sorted(p for p in owner if owner[p] == subject) and listed
    assert tables["payments"]["subject_via"]["via"] == "order_id"


def test_anonymize_and_holds_under_view_policies_reach_the_base_seed(tmp_path):
    """`erasure: anonymize` on a policy over a view keeps the base rows, NON_PII columns as they are;
    a legal hold on a policy over a view protects the stored table behind it."""
    project = copy_project("classic_shop", tmp_path)
    payments = project.path / "policies/tables/payments.yml"
    payments.write_text(payments.read_text().replace("schema:", "erasure: anonymize\nschema:", 1))
    veil_yml = project.path / "policies/veil.yml"
    veil_yml.write_text(veil_yml.read_text() + "  legal_holds:\n    tables: {customers: \"audit 2026-3\"}\n")
    project.build()
    seeds = project.path / "seeds"
    mine = {int(r["id"]) for r in _csv(seeds / "raw_orders.csv") if r["user_id"] == "7"}
    paid = {int(r["id"]): r for r in _csv(seeds / "raw_payments.csv") if int(r["order_id"]) in mine}
    assert paid, "the control: customer 7 has payments"
    project.request_erasure(7, "req-anon")
    result = project.veil("erase")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "legal hold: audit 2026-3 (policy customers)" in result.stdout
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        kept = {r[0]: r[1:] for r in con.execute(
            "SELECT id, order_id, payment_method, amount FROM main.raw_payments WHERE id IN (SELECT unnest(?))",
            [sorted(paid)]).fetchall()}
        assert con.execute("SELECT count(*) FROM main.raw_customers WHERE id = 7").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM main.raw_orders WHERE user_id = 7").fetchall() == [(0,)]  # not held
    assert set(kept) == set(paid)                                       # rows kept for accounting
    for payment, (order_id, method, amount) in kept.items():
        assert order_id not in mine and order_id < 0                    # the link to the customer is gone
        assert method == paid[payment]["payment_method"]              # NON_PII, copied unchanged by the view
        assert amount is None    # the view's NON_PII `amount` is `amount / 100.0`: not provably the same column
    assert len({order for order, _, _ in kept.values()}) == len(kept)  # and rows are not linkable to each other


def test_retention_of_a_policy_over_a_view_deletes_from_the_stored_seed(tmp_path):
    project = copy_project("classic_shop", tmp_path)
    orders = project.path / "policies/tables/orders.yml"
    orders.write_text(orders.read_text().replace("subject: customer_id", "subject: customer_id\n"
                                                 "event_time: order_date\nretention_days: 60", 1))
    project.build()
    dates = {int(r["id"]): r["order_date"] for r in _csv(project.path / "seeds/raw_orders.csv")}
    expired = {o for o, day in dates.items() if day < "2024-03-02"}        # 60 days before --as-of
    assert expired and len(expired) < len(dates), "the control: some orders expire, some stay"
    result = project.veil("retention", "--as-of", "2024-05-01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would delete" not in result.stdout and f"deleted {len(expired)} rows" in result.stdout
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        left = {r[0] for r in con.execute("SELECT id FROM main.raw_orders").fetchall()}
    assert left == set(dates) - expired
