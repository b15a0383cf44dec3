"""What `veil init` says the project still needs depends on the dbt target's adapter, not on DuckDB alone."""

from __future__ import annotations

import pytest

from veil.init import PLUGIN_LINE, _setup_note

PROFILE = """shop:
  target: {target}
  outputs:
    dev: {{type: duckdb, path: shop.duckdb{plugins}}}
    pg: {{type: postgres, host: localhost, port: 5432, user: u, password: p, dbname: d, schema: s}}
    lake: {{type: spark, method: session, schema: s, host: localhost}}
"""


def _project(tmp_path, target: str, plugins: str = "") -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    (tmp_path / "profiles.yml").write_text(PROFILE.format(target=target, plugins=plugins))


@pytest.fixture(autouse=True)
def _own_profiles(monkeypatch, tmp_path):
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    monkeypatch.delenv("DBT_TARGET", raising=False)


def test_a_duckdb_target_without_the_plugin_is_told_to_add_it(tmp_path):
    _project(tmp_path, "dev")
    assert PLUGIN_LINE in _setup_note(tmp_path)


def test_a_duckdb_target_with_the_plugin_needs_nothing(tmp_path):
    _project(tmp_path, "dev", ", plugins: [{module: veil.dbt_duckdb}]")
    assert _setup_note(tmp_path) is None


def test_a_postgres_target_is_told_to_install_the_keys_not_the_duckdb_plugin(tmp_path):
    _project(tmp_path, "pg")
    note = _setup_note(tmp_path)
    assert "veil keys install" in note and "PostgreSQL" in note and PLUGIN_LINE not in note


def test_a_spark_target_is_told_how_the_functions_get_registered(tmp_path):
    _project(tmp_path, "lake")
    note = _setup_note(tmp_path)
    assert "Spark" in note and PLUGIN_LINE not in note
