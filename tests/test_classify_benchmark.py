"""veil classify on the generated labelled benchmark (`python scripts/bench/classify.py` prints the same figures)."""

from __future__ import annotations

import pytest

from veil.classify import benchmark


@pytest.fixture(scope="module")
def outcome():
    return benchmark.evaluate()


def test_the_benchmark_is_wide_and_varied():
    tables = benchmark.TABLES
    columns = [col for t in tables for col in t.columns]
    assert len(tables) >= 40 and len(columns) >= 400
    assert {t.schema for t in tables} >= {"shop_en", "shop_de", "shop_fr", "shop_es"}
    names = {col.name for col in columns}
    assert {"name", "email_opt_in", "phone_verified", "notes"} <= names
    assert any(n.startswith("col_") for n in names) and any(n != n.lower() for n in names)   # meaningless, camelCase
    assert sum(t.held_out for t in tables) >= 10
    assert len({benchmark.classification_of(col.category) for col in columns}) == 5


def test_targets(outcome):
    print("\n" + benchmark.report(outcome))
    direct = next(s for s in outcome.by_classification() if s.label == "DIRECT_PII")
    assert direct.recall >= 0.97 and direct.precision >= 0.90
    assert outcome.accuracy() >= 0.85
    assert outcome.accuracy(outcome.held_out()) >= 0.85
    assert outcome.protection().recall >= 0.97


def test_misleading_names_go_by_their_values(outcome):
    got = {(t.name, col.name): cls for t, col, _, cls, _, _ in outcome.rows}
    assert got[("products", "name")] == "NON_PII"
    assert all(cls == "NON_PII" for (_, column), cls in got.items() if column in {"email_opt_in", "phone_verified"})
    notes = [(t.name, cat) for t, col, _, _, cat, _ in outcome.rows if col.name == "notes"]
    assert notes and all(cat == "free_text" for _, cat in notes)
