"""Hermetic tests: no VEIL_* setting of the shell (e.g. `make demo`'s keyring) leaks into a test."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["conftest_spark"]   # the `spark` fixture: one SparkSession per run

VEIL_SETTINGS = ("VEIL_KEY", "VEIL_KEY_FILE", "VEIL_KEYRING", "VEIL_VAULT", "VEIL_AUDIT_DB", "VEIL_AUDIT_LOG",
                 "VEIL_WAREHOUSE", "VEIL_ACTOR", "VEIL_ERASE_CRASH_AT")


@pytest.fixture(autouse=True)
def _no_veil_settings_from_the_shell(monkeypatch):
    for name in VEIL_SETTINGS:
        if name in os.environ:
            monkeypatch.delenv(name)
    # `make test` exports the reference project's DBT_PROFILES_DIR; a test's project reads its own profiles.yml
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster for the whole run (tests/pg_server.py); fails, never skips, when it cannot start.

    Yields the `PgServer`: `.info` (host = socket dir, port, dbname, user), `.connect()`, `.log_text()`.
    """
    from pg_server import PgServer, PgServerError

    try:
        server = PgServer.start()
    except PgServerError as exc:
        pytest.fail(f"the PostgreSQL test server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
