"""Hermetic tests: no VEIL_* setting of the shell (e.g. `make demo`'s keyring) leaks into a test."""

from __future__ import annotations

import os

import pytest

VEIL_SETTINGS = ("VEIL_KEY", "VEIL_KEY_FILE", "VEIL_KEYRING", "VEIL_VAULT", "VEIL_AUDIT_DB", "VEIL_AUDIT_LOG",
                 "VEIL_WAREHOUSE", "VEIL_ACTOR", "VEIL_ERASE_CRASH_AT")


@pytest.fixture(autouse=True)
def _no_veil_settings_from_the_shell(monkeypatch):
    for name in VEIL_SETTINGS:
        if name in os.environ:
            monkeypatch.delenv(name)
