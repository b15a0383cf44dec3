"""The `veil lint` benchmark corpus (scripts/bench/lint_corpus.py): deterministic, valid, mixed."""

from __future__ import annotations

import re
import sys

import pytest
import yaml

from helpers import REPO

sys.path.insert(0, str(REPO / "scripts" / "bench"))
import lint_corpus  # noqa: E402  (a script beside the benchmarks, not a package)

COUNT = 40
PII_NAMES = re.compile(r"\b(name|full_name|email|phone|ssn|birth_date|card_number|ip_address)\b")
STAR = re.compile(r"(?<!count\()\*")


@pytest.fixture(scope="module")
def queries():
    return lint_corpus.generate(COUNT)


def test_same_seed_writes_the_same_bytes(tmp_path, queries):
    for name in ("a", "b"):
        lint_corpus.write_corpus(tmp_path / name, lint_corpus.generate(COUNT))
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == [f"q{i:04d}.sql" for i in range(1, COUNT + 1)]
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert [q.text for q in lint_corpus.generate(COUNT, seed=8)] != [q.text for q in queries]


def test_rewriting_a_smaller_corpus_removes_the_old_files(tmp_path, queries):
    lint_corpus.write_corpus(tmp_path, queries)
    lint_corpus.write_corpus(tmp_path, queries[:5])
    assert len(list(tmp_path.glob("*.sql"))) == 5


def test_every_query_parses_and_binds(queries):
    assert lint_corpus.check_queries({q.name: q.text for q in queries}) == []


def test_the_mix_holds(queries):
    features = lint_corpus.mix(queries)
    assert features["star"] and features["pii"] and features["masked"] and features["ml_training"]
    for query in queries:
        assert re.match(r"-- veil: purpose=(analytics|ml_training)\n", query.text)
        assert lint_corpus.MIN_LINES <= query.text.count("\n") <= lint_corpus.MAX_LINES
        assert ("star" in query.features) == bool(STAR.search(query.text)), query.name
        assert "pii" not in query.features or PII_NAMES.search(query.text), query.name


@pytest.mark.parametrize("table", ["users", "events", "payments"])
def test_the_raw_columns_are_the_policies(table):
    policy = yaml.safe_load((REPO / "policies" / "tables" / f"{table}.yml").read_text(encoding="utf-8"))
    columns = policy.get("columns") or policy["schema"]
    assert [name for name, _, _ in lint_corpus.FAMILIES[table]] == [c["name"] for c in columns]
