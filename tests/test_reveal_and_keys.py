"""`veil reveal` (authorized reversal, audited) and `veil keys` (init, rotate, reencrypt)."""

from __future__ import annotations

import shutil
import stat

import duckdb
import pytest
from click.testing import CliRunner
from helpers import REPO

from veil.audit.trail import AuditTrail
from veil.cli import main
from veil.crypto.field import seal
from veil.crypto.fpe import FormatPreservingCipher
from veil.keyring import load_keyring
from veil.vault import Vault

CARD = "4111111111111111"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    monkeypatch.chdir(tmp_path)
    for name in ("VEIL_KEY", "VEIL_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VEIL_KEYRING", str(tmp_path / ".veil/keyring.json"))
    monkeypatch.setenv("VEIL_VAULT", str(tmp_path / ".veil/vault.duckdb"))
    monkeypatch.setenv("VEIL_AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.setenv("VEIL_ACTOR", "alice@example.test")
    result = CliRunner().invoke(main, ["keys", "init"])
    assert result.exit_code == 0, result.output
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def audit(project):
    return AuditTrail(project / "audit.duckdb").records(kind="reveal")


def source_holding(project, *cards):
    """A warehouse whose raw.payments (the payments policy's relation) holds `cards`: what reveal confirms against."""
    path = project / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute("CREATE OR REPLACE TABLE raw.payments (payment_id BIGINT, user_id BIGINT, card_number VARCHAR)")
        con.executemany("INSERT INTO raw.payments VALUES (?, ?, ?)", [[i, i, c] for i, c in enumerate(cards, 1)])
    return str(path)


def test_keys_init_makes_private_files_without_plaintext_keys(project):
    ring_file = project / ".veil/keyring.json"
    assert stat.S_IMODE(ring_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((project / ".veil/master.key").stat().st_mode) == 0o600
    keyring = load_keyring()
    text = ring_file.read_text()
    for name in ("hmac", "fpe", "vault", "encrypt"):
        assert keyring.primary(name).material.hex() not in text
    assert "kept existing keyring" in invoke("keys", "init").output


def test_support_reveals_an_analyst_fpe_token(project):
    token = FormatPreservingCipher(load_keyring().primary("fpe").material).encrypt(CARD, keep_last=4, luhn="invalid")
    result = invoke("reveal", "--audience", "support", "--table", "payments", "--column", "card_number",
                    "--reason", "ticket 4711", "--database", source_holding(project, CARD), token)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == CARD
    record = audit(project)[-1]
    assert record.status == "revealed" and record.details["actor"] == "alice@example.test"
    assert record.details["reason"] == "ticket 4711" and record.rows == 1 and record.method == "support"
    assert CARD.encode() not in (project / "audit.duckdb").read_bytes()


def test_support_reveals_an_ml_vault_token(project):
    vault = Vault(project / ".veil/vault.duckdb", load_keyring())
    token = vault.tokenize([CARD], keep_last=4, luhn="invalid")[0]
    vault.close()
    result = invoke("reveal", "--audience", "support", "--table", "payments", "--column", "card_number",
                    "--reason", "chargeback", "--database", source_holding(project, CARD), token)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == CARD


@pytest.mark.parametrize(("audience", "table", "column"), [
    ("analyst", "payments", "card_number"),     # the analyst audience cannot reveal
    ("support", "users", "ssn"),                # support sees the SSN encrypted, may not reveal it
])
def test_unauthorized_reveal_exits_1_and_is_audited(project, audience, table, column):
    token = seal(load_keyring().primary("encrypt"), "123-45-6789", f"{table}.{column}")
    result = invoke("reveal", "--audience", audience, "--table", table, "--column", column, "--reason", "curious",
                    token)
    assert result.exit_code == 1
    assert "may not reveal" in result.output and "123-45-6789" not in result.output
    assert audit(project)[-1].status == "refused"


def test_reveals_are_records_of_the_hash_chained_audit_trail(project):
    for _ in range(3):
        invoke("reveal", "--audience", "analyst", "--table", "payments", "--column", "card_number", "--reason", "x",
               "1")
    assert AuditTrail(project / "audit.duckdb").verify() == 3
    assert invoke("audit", "verify").exit_code == 0
    with duckdb.connect(str(project / "audit.duckdb")) as con:
        con.execute("UPDATE records SET detail = replace(detail, '\"x\"', '\"y\"') WHERE seq = 2")
    result = invoke("audit", "verify")
    assert result.exit_code == 1 and "record 2" in result.output


def test_bad_reveal_input_exits_2(project):
    assert invoke("reveal", "--audience", "nobody", "--table", "payments", "--column", "card_number",
                  "--reason", "x", "1").exit_code == 2
    assert invoke("reveal", "--audience", "support", "--table", "payments", "--column", "nope",
                  "--reason", "x", "1").exit_code == 2


def test_rotate_then_reencrypt_vault_and_warehouse(project):
    keyring = load_keyring()
    old = keyring.primary("encrypt")
    vault = Vault(project / ".veil/vault.duckdb", keyring)
    vault.tokenize([CARD])
    vault.close()
    warehouse = project / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE support__users (user_id BIGINT, ssn VARCHAR)")
        con.execute("INSERT INTO support__users VALUES (1, ?), (2, NULL)", [seal(old, "123-45-6789", "users.ssn")])
    assert invoke("keys", "rotate", "encrypt").output.strip() == "encrypt:v2 is now the primary version of encrypt"
    assert invoke("keys", "rotate", "vault").exit_code == 0
    result = invoke("keys", "reencrypt", "--database", str(warehouse))
    assert result.exit_code == 0, result.output
    assert "re-sealed 1 entries" in result.output and '"main"."support__users"."ssn": re-sealed 1 values' in result.output
    with duckdb.connect(str(warehouse)) as con:
        (ssn,) = con.execute("SELECT ssn FROM support__users WHERE user_id = 1").fetchone()
    assert ssn.startswith("veil1:encrypt:v2:")
    again = invoke("keys", "reencrypt", "--database", str(warehouse))
    assert "re-sealed 0 entries" in again.output and "re-sealed 0 values" in again.output


def test_rotate_unknown_key_exits_2(project):
    result = invoke("keys", "rotate", "nonsense")
    assert result.exit_code == 2 and "Traceback" not in result.output
