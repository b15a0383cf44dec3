"""Whose rows each table holds: the subject table and key, foreign keys (tests, names, values), consent and registry."""

from __future__ import annotations

from veil.classify.discover import discover
from veil.classify.run import classify_samples
from veil.classify.sample import TableRef, TableSample
from veil.classify.subjects import find_subjects
from veil.classify.values import ColumnSample


def table(name: str, columns: dict[str, tuple[str, list]], relation: str | None = None) -> TableSample:
    ref = TableRef("raw", name, relation or f"source('shop', '{name}')", name, "source")
    samples = [ColumnSample(c, t, v, len(v), len(set(v))) for c, (t, v) in columns.items()]
    return TableSample(ref, samples, max((len(v) for _, v in columns.values()), default=0), "warehouse")


CUSTOMERS = table("customers", {"id": ("BIGINT", [1, 2, 3]),
                                "email": ("VARCHAR", ["a@x.org", "b@x.org", "c@x.org"]),
                                "full_name": ("VARCHAR", ["Ann Lee", "Bo Chan", "Cy Diaz"])})
ORDERS = table("orders", {"order_id": ("BIGINT", [10, 11, 12]), "buyer": ("BIGINT", [1, 1, 3])})
PAYMENTS = table("payments", {"id": ("BIGINT", [100, 101]), "order_id": ("BIGINT", [10, 12])})
REFUNDS = table("refunds", {"refund_id": ("BIGINT", [7]), "payment_id": ("BIGINT", [100])})


def manifest(*tests: dict) -> dict:
    nodes = {f"test.shop.t{i}": {"resource_type": "test", "test_metadata": t, "column_name": t["kwargs"]["column_name"]}
             for i, t in enumerate(tests)}
    return {"metadata": {"project_name": "shop"}, "sources": {}, "nodes": nodes}


def relationships(child: str, column: str, parent: str, key: str) -> dict:
    return {"name": "relationships", "kwargs": {"column_name": column, "to": f"source('shop', '{parent}')",
                                                "field": key,
                                                "model": f"{{{{ get_where_subquery(source('shop', '{child}')) }}}}"}}


def test_a_relationships_test_links_what_names_cannot():
    project = discover(manifest(relationships("orders", "buyer", "customers", "id"),
                                {"name": "unique", "kwargs": {"column_name": "order_id", "model":
                                                              "{{ get_where_subquery(source('shop', 'orders')) }}"}}),
                       "/tmp")
    assert ("source('shop', 'orders')", "order_id") in project.unique
    subjects = find_subjects([CUSTOMERS, ORDERS], {"raw.customers": 2}, project)
    assert (subjects.table.key, subjects.key, subjects.noun) == ("raw.customers", "id", "customer")
    assert subjects.links["raw.orders"].column == "buyer"
    assert "dbt relationships test" in subjects.links["raw.orders"].why
    assert find_subjects([CUSTOMERS, ORDERS], {"raw.customers": 2}).links.get("raw.orders") is None


def test_multi_hop_via_by_names():
    orders = table("orders", {"order_id": ("BIGINT", [10, 11, 12]), "customer_id": ("BIGINT", [1, 1, 3])})
    subjects = find_subjects([CUSTOMERS, orders, PAYMENTS, REFUNDS], {"raw.customers": 2})
    assert subjects.links["raw.orders"].column == "customer_id"
    payments, refunds = subjects.links["raw.payments"], subjects.links["raw.refunds"]
    assert (payments.column, payments.via.key, payments.key) == ("order_id", "raw.orders", "order_id")
    assert (refunds.column, refunds.via.key, refunds.key) == ("payment_id", "raw.payments", "id")
    assert subjects.subject_column == "customer_id"


def test_consent_log_and_registry_are_recognised_and_relabelled():
    consent = table("consent_events", {"customer_id": ("BIGINT", [1, 2]), "purpose": ("VARCHAR", ["analytics"]),
                                       "granted": ("BOOLEAN", [True, False]),
                                       "recorded_at": ("TIMESTAMP", [])})
    registry = table("gdpr_forget_requests", {"ticket_id": ("VARCHAR", []), "customer_id": ("BIGINT", []),
                                              "received_at": ("TIMESTAMP", [])})
    result = classify_samples([CUSTOMERS, consent, registry])
    subjects = result.subjects
    assert (subjects.consent.subject, subjects.consent.granted) == ("customer_id", "granted")
    assert (subjects.registry.subject, subjects.registry.requested_at, subjects.registry.request_id) == (
        "customer_id", "received_at", "ticket_id")
    assert subjects.infrastructure() == {"raw.consent_events", "raw.gdpr_forget_requests"}
    relabelled = {(c.table, c.column): c.category for c in result.columns()}
    assert relabelled[("raw.consent_events", "customer_id")] == "subject_key"
    assert relabelled[("raw.customers", "id")] == "subject_key"


def test_no_direct_pii_no_subject():
    subjects = find_subjects([ORDERS, PAYMENTS], {"raw.orders": 0, "raw.payments": 0})
    assert subjects.table is None and subjects.links == {}
