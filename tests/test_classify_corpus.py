"""veil classify's accuracy on the labelled synthetic corpus (`python -m veil.classify.corpus` prints it)."""

from __future__ import annotations

import pytest

from veil.classify.corpus import CORPUS, evaluate, report

LANGUAGE_TABLES = {"kunden", "clients_fr", "clientes_es", "customers_en"}


@pytest.fixture(scope="module")
def evaluation():
    return evaluate()


def test_the_corpus_is_wide_enough():
    assert len(CORPUS) >= 150
    assert LANGUAGE_TABLES <= {s.table for s in CORPUS}
    assert sum(s.misleading for s in CORPUS) >= 30
    assert len({s.category for s in CORPUS}) >= 24


def test_accuracy(evaluation):
    print("\n" + report(evaluation))
    assert evaluation.columns == len(CORPUS)
    assert evaluation.category_accuracy >= 0.95
    assert evaluation.classification_accuracy >= 0.95
    assert evaluation.misleading_accuracy >= 0.9
    assert evaluation.held_out_accuracy >= 0.9


def test_precision_and_recall_per_category(evaluation):
    weak = [(s.label, round(s.precision, 2), round(s.recall, 2)) for s in evaluation.scores
            if s.support and (s.precision < 0.85 or s.recall < 0.85)]
    assert weak == []
