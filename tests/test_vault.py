"""The token vault: same value same token, new values only, nothing in clear, rotation."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.fpe import is_luhn_valid
from veil.errors import DecryptionError
from veil.keyring import init_keyring, load_keyring, rotate_key
from veil.vault import Vault, random_token

CARDS = ["4111111111111111", "5500000000000004", "4012888888881881", "4222222222222"]


@pytest.fixture()
def keyring_path(tmp_path):
    return init_keyring(tmp_path / "keys" / "keyring.json")


@pytest.fixture()
def vault(tmp_path, keyring_path):
    vault = Vault(tmp_path / "vault.duckdb", load_keyring({"VEIL_KEYRING": str(keyring_path)}))
    yield vault
    vault.close()


def test_same_value_same_token_and_only_new_values_are_stored(vault):
    first = vault.tokenize(CARDS + [None, CARDS[0]], keep_last=4, luhn="invalid")
    assert first[-2] is None and first[0] == first[-1]
    assert vault.count() == 4
    again = vault.tokenize(CARDS[:2] + ["4916338506082832"], keep_last=4, luhn="invalid")
    assert again[:2] == first[:2] and vault.count() == 5


def test_tokens_keep_the_format_and_are_luhn_invalid(vault):
    for card, token in zip(CARDS, vault.tokenize(CARDS, keep_last=4, luhn="invalid")):
        assert len(token) == len(card) and token.isdigit() and token[-4:] == card[-4:] and token != card
        assert is_luhn_valid(card) and not is_luhn_valid(token)


def test_detokenize_and_unknown_token(vault):
    tokens = vault.tokenize(CARDS)
    assert [vault.detokenize(t) for t in tokens] == CARDS
    with pytest.raises(DecryptionError, match="not in the vault"):
        vault.detokenize("0000000000000000")


def test_the_vault_file_holds_no_plaintext_and_no_unkeyed_hash(vault, tmp_path):
    import hashlib

    vault.tokenize(CARDS * 50)
    vault.close()
    data = (tmp_path / "vault.duckdb").read_bytes()
    for card in CARDS:
        assert card.encode() not in data
        assert hashlib.sha256(card.encode()).hexdigest().encode() not in data
    with duckdb.connect(str(tmp_path / "vault.duckdb"), read_only=True) as con:
        columns = [c[0] for c in con.execute("DESCRIBE tokens").fetchall()]
    assert columns == ["fingerprint", "token", "sealed", "key_id", "created_at"]


def test_rotation_then_reencrypt_keeps_tokens_and_originals(vault, keyring_path, tmp_path):
    tokens = vault.tokenize(CARDS)
    vault.close()
    rotate_key(keyring_path, "vault")
    rotated = Vault(tmp_path / "vault.duckdb", load_keyring({"VEIL_KEYRING": str(keyring_path)}))
    assert rotated.tokenize(CARDS) == tokens                       # fingerprints survive rotation
    assert rotated.reencrypt(batch_size=3) == 4                    # batches of 3: resumable
    assert rotated.reencrypt() == 0                                 # nothing left: a no-op
    assert [rotated.detokenize(t) for t in tokens] == CARDS
    rotated.close()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789- abcXYZ", min_size=1, max_size=30), st.integers(0, 6),
       st.sampled_from(["any", "valid", "invalid"]))
def test_random_tokens_keep_the_format(value, keep_last, luhn):
    token = random_token(value, keep_last, luhn)
    if token is None:
        assert not any(c.isalnum() for c in value) or sum(c.isdigit() for c in value) <= keep_last
        return
    assert len(token) == len(value)
    for original, replaced in zip(value, token):
        assert original.isdigit() == replaced.isdigit() and original.isalpha() == replaced.isalpha()
        if not original.isalnum():
            assert original == replaced
    digits = [c for c in value if c.isdigit()]
    if luhn != "any" and len(digits) > keep_last:
        from veil.crypto.fpe import luhn_residue

        shift = 1 if luhn == "invalid" else 0
        assert luhn_residue("".join(c for c in token if c.isdigit())) == (luhn_residue("".join(digits)) + shift) % 10
    if keep_last and len(digits) > keep_last:
        assert [c for c in token if c.isdigit()][-keep_last:] == digits[-keep_last:]
