"""The reversible strategies through DuckDB: Arrow UDFs over batches, NULLs, determinism, keys."""

from __future__ import annotations

import duckdb
import pytest

from helpers import TEST_KEY_HEX
from veil.crypto.field import unseal
from veil.crypto.fpe import FormatPreservingCipher, luhn_residue
from veil.duckdb_functions import register_functions
from veil.keyring import keyring_from_key

KEY = bytes.fromhex(TEST_KEY_HEX)


@pytest.fixture()
def con(tmp_path):
    con = duckdb.connect()
    register_functions(con, KEY, {"VEIL_VAULT": str(tmp_path / "vault.duckdb")})
    con.execute("CREATE TABLE cards AS SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE "
                "'4111' || lpad(CAST(i % 500 AS VARCHAR), 11, '0') || '1' END AS card FROM range(5000) t(i)")
    return con


def test_fpe_over_several_batches_matches_the_library(con):
    rows = con.execute("SELECT card, veil_mask_fpe(card, 4, 'invalid') FROM cards").fetchall()
    cipher = FormatPreservingCipher(keyring_from_key(KEY).primary("fpe").material)
    assert len(rows) == 5000
    for card, token in rows:
        if card is None:
            assert token is None
        else:
            assert token == cipher.encrypt(card, keep_last=4, luhn="invalid")
            assert cipher.decrypt(token, keep_last=4, luhn="invalid") == card


def test_fpe_malformed_gives_null(con):
    assert con.execute("SELECT veil_mask_fpe('12ab34', 0, 'any'), veil_mask_fpe('123', 0, 'any')").fetchone() == (
        None, None)


def test_tokenize_is_stable_within_and_across_queries(con):
    first = dict(con.execute("SELECT DISTINCT card, veil_mask_tokenize(card, 4, 'invalid') FROM cards "
                             "WHERE card IS NOT NULL").fetchall())
    again = dict(con.execute("SELECT card, veil_mask_tokenize(card, 4, 'invalid') FROM cards "
                             "WHERE card IS NOT NULL").fetchall())
    assert first == again and len(set(first.values())) == len(first) == 500
    assert all(luhn_residue(t) == (luhn_residue(c) + 1) % 10 and t[-4:] == c[-4:] for c, t in first.items())


def test_encrypt_binds_to_its_context_and_random_nonce(con):
    (a, b) = con.execute("SELECT veil_mask_encrypt('123-45-6789', 'users.ssn'), "
                         "veil_mask_encrypt('123-45-6789', 'users.ssn')").fetchone()
    assert a != b
    ring = keyring_from_key(KEY)
    assert unseal(ring.by_id, a, "users.ssn") == "123-45-6789"
    assert con.execute("SELECT veil_mask_encrypt(NULL, 'users.ssn')").fetchone() == (None,)


def test_without_keys_the_functions_fail_with_a_clear_message():
    con = duckdb.connect()
    register_functions(con, None)
    with pytest.raises(duckdb.Error, match="VEIL_KEYRING"):
        con.execute("SELECT veil_mask_fpe('4111111111111111', 4, 'invalid')").fetchall()
