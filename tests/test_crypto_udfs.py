"""The reversible strategies through DuckDB: Arrow UDFs over batches, NULLs, determinism, keys."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from helpers import TEST_KEY_HEX
from veil.crypto.field import unseal
from veil.crypto.fpe import FormatPreservingCipher, luhn_residue
from veil.duckdb_functions import register_functions
from veil.keyring import keyring_from_key
from veil.strategies.base import MaskContext
from veil.strategies.reversible import TOKENIZE
from veil.types import ColumnType
from veil.vault import Vault, close_shared_vaults

KEY = bytes.fromhex(TEST_KEY_HEX)


@pytest.fixture()
def con(tmp_path):
    con = duckdb.connect()
    register_functions(con, KEY, {"VEIL_VAULT": str(tmp_path / "vault.duckdb")})
    # 5,000 rows (three batches): 500 cards, NULL every 7th; subjects 0-299, NULL every 11th
    con.execute("CREATE TABLE cards AS SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE "
                "'4111' || lpad(CAST(i % 500 AS VARCHAR), 11, '0') || '1' END AS card, "
                "CASE WHEN i % 11 = 0 THEN NULL ELSE i % 300 END AS user_id FROM range(5000) t(i)")
    yield con
    con.close()
    close_shared_vaults()


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
    first = dict(con.execute("SELECT DISTINCT card, veil_mask_tokenize(card, 4, 'invalid', NULL) FROM cards "
                             "WHERE card IS NOT NULL").fetchall())
    again = dict(con.execute("SELECT card, veil_mask_tokenize(card, 4, 'invalid', CAST(user_id AS TEXT)) "
                             "FROM cards WHERE card IS NOT NULL").fetchall())
    assert first == again and len(set(first.values())) == len(first) == 500
    assert all(luhn_residue(t) == (luhn_residue(c) + 1) % 10 and t[-4:] == c[-4:] for c, t in first.items())


def test_tokenize_binds_each_row_value_to_its_subject_over_several_batches(con, tmp_path):
    masked = TOKENIZE.build(exp.column("card"), MaskContext(options={"keep_last": 4}, column_type=ColumnType.STRING,
                                                            subject=exp.column("user_id")))
    rows = con.execute(f"SELECT card, user_id, {masked.sql('duckdb')} FROM cards").fetchall()
    assert len(rows) == 5000 and all((token is None) == (card is None) for card, _, token in rows)
    assert len({token for card, _, token in rows if card}) == 500            # one token per card, shared
    expected: dict[str, set[str]] = {}
    for card, user_id, _ in rows:
        if card is not None and user_id is not None:
            expected.setdefault(str(user_id), set()).add(card)
    close_shared_vaults()
    vault = Vault(tmp_path / "vault.duckdb", keyring_from_key(KEY))
    try:
        owned = vault.count_owned([str(i) for i in range(400)])
        assert owned == {who: len(cards) for who, cards in expected.items()} and len(owned) == 300
        # card c is owned by the three subjects congruent to c mod 100: forget those below 50 mod 100
        forgotten = [str(i) for i in range(300) if i % 100 < 50]
        assert vault.forget_subjects(forgotten) == {who: owned[who] for who in forgotten}
        still_owned = {card for who, cards in expected.items() if who not in forgotten for card in cards}
        assert vault.count() == len(still_owned) == 250                       # the others' cards stay
        assert vault.forget_subjects([str(i) for i in range(300)]) and vault.count() == 0
    finally:
        vault.close()


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
