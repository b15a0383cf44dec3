"""The fpe tweak: the digits kept in clear tweak FF1 (SP 800-38G), so a shared prefix is no shared token prefix."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.ff1 import FF1
from veil.crypto.fpe import FormatPreservingCipher, luhn_residue
from veil.duckdb_udfs import crypto_udfs
from veil.keyring import keyring_from_key

KEY = bytes.fromhex("0123456789abcdef" * 4)  # an obvious test value, not a secret
CIPHER = FormatPreservingCipher(KEY)
LUHN_MODES = ("any", "valid", "invalid")


def with_check_digit(payload: str) -> str:
    return payload + str((10 - luhn_residue(payload + "0")) % 10)


@pytest.mark.parametrize("luhn", LUHN_MODES)
def test_cards_sharing_their_first_12_digits_get_different_token_prefixes(luhn):
    a, b = "4111111111111111", "4111111111112222"
    token_a, token_b = (CIPHER.encrypt(card, keep_last=4, luhn=luhn) for card in (a, b))
    assert token_a[-4:] == "1111" and token_b[-4:] == "2222"
    assert token_a[:12] != token_b[:12]
    # without the tweak the 11 (luhn on) or 12 (luhn any) FF1 digits would be the same
    assert token_a[:11] != token_b[:11]
    assert CIPHER.decrypt(token_a, keep_last=4, luhn=luhn) == a
    assert CIPHER.decrypt(token_b, keep_last=4, luhn=luhn) == b


def test_a_thousand_cards_of_one_prefix_get_a_thousand_token_prefixes():
    cards = [with_check_digit(f"411111111111{ending:03d}") for ending in range(1000)]
    tokens = [CIPHER.encrypt(card, keep_last=4, luhn="invalid") for card in cards]
    assert len({token[:11] for token in tokens}) >= 990   # tokens of distinct endings are unrelated
    assert [CIPHER.decrypt(token, keep_last=4, luhn="invalid") for token in tokens] == cards


def test_the_tweak_is_the_ascii_of_the_kept_digits():
    ff1 = FF1(KEY)
    assert CIPHER.encrypt("4111111111111111", keep_last=4, luhn="any") == ff1.encrypt("411111111111", b"1111") + "1111"
    encrypted = ff1.encrypt("5500000000", b"000004")   # separators are no part of the tweak
    assert CIPHER.encrypt("5500-0000-0000-0004", keep_last=6, luhn="any") == (
        f"{encrypted[:4]}-{encrypted[4:8]}-{encrypted[8:]}00-0004")


@pytest.mark.parametrize(("value", "luhn", "token"), [
    # tokens as veil made them before the tweak: without keep_last they are byte for byte the same
    ("4111111111111111", "invalid", "5379216500370098"),
    ("4111-1111-1111-1111", "any", "7873-3825-1451-2185"),
    ("+1 (555) 010-9999", "valid", "+4 (979) 674-1612"),
])
def test_without_keep_last_the_tweak_is_empty_and_tokens_are_unchanged(value, luhn, token):
    assert CIPHER.encrypt(value, luhn=luhn) == token
    assert CIPHER.decrypt(token, luhn=luhn) == value
    digits = "".join(ch for ch in value if ch.isdigit())
    if luhn == "any":
        assert "".join(ch for ch in token if ch.isdigit()) == FF1(KEY).encrypt(digits)


def test_tokens_made_before_the_tweak_with_keep_last_no_longer_decrypt():
    old_token = "8520735147531111"   # 4111111111111111, keep_last 4, luhn invalid, empty tweak (veil before)
    assert CIPHER.encrypt("4111111111111111", keep_last=4, luhn="invalid") != old_token
    assert CIPHER.decrypt(old_token, keep_last=4, luhn="invalid") != "4111111111111111"


@given(st.text(alphabet="0123456789", min_size=13, max_size=24), st.integers(1, 6), st.sampled_from(LUHN_MODES))
def test_round_trip_with_the_tweak(digits, keep_last, luhn):
    token = CIPHER.encrypt(digits, keep_last=keep_last, luhn=luhn)
    assert token[len(token) - keep_last:] == digits[len(digits) - keep_last:]
    assert CIPHER.decrypt(token, keep_last=keep_last, luhn=luhn) == digits
    assert CIPHER.encrypt(CIPHER.decrypt(digits, keep_last=keep_last, luhn=luhn), keep_last=keep_last,
                          luhn=luhn) == digits


def test_the_duckdb_function_uses_the_tweak_too():
    keyring = keyring_from_key(KEY)
    udf, _ = crypto_udfs(keyring)["veil_mask_fpe"]
    cards = pa.array(["4111111111111111", "4111111111112222"])
    tokens = udf(cards, pa.array([4, 4]), pa.array(["invalid", "invalid"])).to_pylist()
    cipher = FormatPreservingCipher(keyring.primary("fpe").material)
    assert tokens == [cipher.encrypt(c, keep_last=4, luhn="invalid") for c in cards.to_pylist()]
    assert tokens[0][:12] != tokens[1][:12]


def test_a_card_with_4_clear_digits_still_costs_one_aes_block_per_round():
    from test_ff1 import CountingEncryptor

    cipher = FormatPreservingCipher(KEY)
    counter = cipher._ff1._ecb = CountingEncryptor(cipher._ff1._ecb)
    cipher.encrypt("4111111111111111", keep_last=4, luhn="invalid")   # 11 FF1 digits, a 4-byte tweak
    assert counter.blocks == 1 + 10
    cipher.encrypt("5500000000000004", keep_last=4, luhn="invalid")
    assert counter.blocks == 11 + 10
