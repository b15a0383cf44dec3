"""The dbt-duckdb plugin registers the keyed function on connections and cursors."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest
from dbt.adapters.duckdb.plugins import BasePlugin

from veil.dbt_duckdb import Plugin

TEST_HEX = "00112233445566778899aabbccddeeff" * 2  # an obvious test value, not a secret


def expected(message: str, key_hex: str = TEST_HEX) -> str:
    return hmac.new(bytes.fromhex(key_hex), message.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def no_key_env(monkeypatch, tmp_path):
    """No key in the environment, and no default .veil/keyring.json (`make demo` makes one in the repo)."""
    monkeypatch.delenv("VEIL_KEY", raising=False)
    monkeypatch.delenv("VEIL_KEY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


def test_registers_on_connection_and_cursor(monkeypatch, no_key_env):
    monkeypatch.setenv("VEIL_KEY", TEST_HEX)
    plugin = Plugin("veil", {})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        cursor = conn.cursor()
        plugin.configure_cursor(cursor)
        for handle in (conn, cursor):
            assert handle.execute("SELECT veil_hmac_sha256('a@b.c')").fetchone()[0] == expected("a@b.c")


def test_without_a_key_the_function_fails_naming_veil_key(no_key_env):
    plugin = Plugin("veil", {})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        cursor = conn.cursor()
        plugin.configure_cursor(cursor)
        assert cursor.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(duckdb.Error, match="VEIL_KEY"):
            cursor.execute("SELECT veil_hmac_sha256('x')").fetchall()


def test_key_file_from_plugin_config(tmp_path, no_key_env):
    key_hex = "ff" * 32  # test value
    key_file = tmp_path / "dev.key"
    key_file.write_text(key_hex + "\n")
    plugin = BasePlugin.create("veil.dbt_duckdb", config={"key_file": str(key_file)})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        assert conn.execute("SELECT veil_hmac_sha256('x')").fetchone()[0] == expected("x", key_hex)


def test_environment_wins_over_plugin_config(tmp_path, monkeypatch, no_key_env):
    monkeypatch.setenv("VEIL_KEY", TEST_HEX)
    plugin = Plugin("veil", {"key_file": str(tmp_path / "never-read.key")})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        assert conn.execute("SELECT veil_hmac_sha256('x')").fetchone()[0] == expected("x")


def test_sql_on_a_keyed_connection_cannot_read_the_key_from_files_or_the_environment(monkeypatch, no_key_env,
                                                                                       tmp_path):
    key_file = tmp_path / "dev.key"
    key_file.write_text(TEST_HEX)
    monkeypatch.setenv("VEIL_KEY", TEST_HEX)
    with duckdb.connect() as open_conn:   # first prove the reads work on an ordinary connection
        assert TEST_HEX in open_conn.execute("SELECT content FROM read_text(?)", [str(key_file)]).fetchone()[0]
        assert "PATH=" in open_conn.execute("SELECT content FROM read_text('/proc/self/environ')").fetchone()[0]
    plugin = Plugin("veil", {})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        for query, parameters in (("SELECT content FROM read_text(?)", [str(key_file)]),
                                  ("SELECT content FROM read_text('/proc/self/environ')", None),
                                  ("SELECT * FROM read_csv(?)", [str(key_file)])):
            with pytest.raises(duckdb.Error, match="disabled"):
                conn.execute(query, parameters).fetchall()
        with pytest.raises(duckdb.Error):
            conn.execute("SET enable_external_access = true")
        assert conn.execute("SELECT veil_hmac_sha256('a@b.c')").fetchone()[0] == expected("a@b.c")


def test_a_project_that_reads_files_can_opt_out(monkeypatch, no_key_env, tmp_path):
    monkeypatch.setenv("VEIL_KEY", TEST_HEX)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    plugin = Plugin("veil", {"allow_file_access": True})
    with duckdb.connect() as conn:
        plugin.configure_connection(conn)
        assert conn.execute("SELECT a FROM read_csv(?)", [str(data)]).fetchall() == [(1,)]
