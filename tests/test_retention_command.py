"""`veil retention`: physical deletion and column expiry, in place, idempotent."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from helpers import load_fixture, write_files
from veil.cli import main

FIXTURE = load_fixture("consent_retention_project.yml")


@pytest.fixture()
def warehouse(tmp_path):
    write_files(tmp_path, FIXTURE["files"])
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(FIXTURE["data"])
    return tmp_path, path


def invoke(project, path, *extra):
    return CliRunner().invoke(main, ["retention", "--project-dir", str(project), "--database", str(path),
                                     "--as-of", "2026-11-01", *extra])


def events(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT event_id, ip_address FROM raw.events ORDER BY 1").fetchall()


def test_dry_run_counts_and_changes_nothing(warehouse):
    project, path = warehouse
    before = events(path)
    result = invoke(project, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "events (\"raw\".\"events\"): would delete 1 rows older than 30 days; would null ip_address in 1 rows" \
        in result.output
    assert "kept 1 rows without an event time" in result.output
    assert events(path) == before


def test_deletes_expired_rows_nulls_expired_columns_and_is_idempotent(warehouse):
    project, path = warehouse
    result = invoke(project, path)
    assert result.exit_code == 0, result.output
    assert "deleted 1 rows older than 30 days; nulled ip_address in 1 rows" in result.output
    assert events(path) == [(1, "192.0.2.1"), (2, None), (4, "192.0.2.4")]
    again = invoke(project, path)
    assert "deleted 0 rows older than 30 days; nulled ip_address in 0 rows" in again.output
    assert events(path) == [(1, "192.0.2.1"), (2, None), (4, "192.0.2.4")]


def test_tables_without_retention_are_untouched(warehouse):
    project, path = warehouse
    invoke(project, path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.users").fetchone()[0] == 12


def test_bad_clock_is_a_usage_error(warehouse):
    project, path = warehouse
    result = CliRunner().invoke(main, ["retention", "--project-dir", str(project), "--database", str(path),
                                       "--as-of", "tomorrow"])
    assert result.exit_code == 2 and "expected a date" in result.output
