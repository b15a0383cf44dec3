"""The fpe format layer: format kept, a bijection, Luhn handled, never the value in clear."""

from __future__ import annotations

import doctest
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import fpe as fpe_module
from veil.crypto.fpe import FormatPreservingCipher, is_luhn_valid, luhn_residue

KEY = bytes.fromhex("0123456789abcdef" * 4)  # an obvious test value, not a secret
OTHER_KEY = bytes.fromhex("fedcba9876543210" * 4)
CIPHER = FormatPreservingCipher(KEY)
DIGITS = "0123456789"
SEPARATORS = "-  ./()+#*,_:\u00a0\u2013\u00b7"  # ASCII and unicode punctuation and spaces
LUHN_SHIFT = {"valid": 0, "invalid": 1}

keep_lasts = st.integers(0, 6)
luhn_modes = st.sampled_from(["any", "valid", "invalid"])


@st.composite
def formatted(draw, min_digits=0, max_digits=30):
    """Digits with up to two separator characters before, between and after them."""
    digits = draw(st.text(alphabet=DIGITS, min_size=min_digits, max_size=max_digits))
    gaps = draw(st.lists(st.text(alphabet=SEPARATORS, max_size=2), min_size=len(digits) + 1, max_size=len(digits) + 1))
    return "".join(gap + digit for gap, digit in zip(gaps, digits)) + gaps[-1]


values = formatted()  # short ones too: those must give None
encryptable = formatted(min_digits=13)  # at least 6 encrypted whatever keep_last and luhn
long_values = formatted(min_digits=19)  # at least 12 encrypted


def reference_luhn(digits: str) -> int:
    """The Luhn sum mod 10 the long way round."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        digit = int(ch)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch in DIGITS)


def encrypted_count(value: str, keep_last: int, luhn: str) -> int:
    """How many digits FF1 encrypts: not kept, and not the computed Luhn digit."""
    return len(digits_of(value)) - keep_last - (0 if luhn == "any" else 1)


@st.composite
def card_numbers(draw, valid=True):
    payload = draw(st.text(alphabet=DIGITS, min_size=15, max_size=15))
    check = (10 - reference_luhn(payload + "0")) % 10
    if not valid:
        check = (check + draw(st.integers(1, 9))) % 10
    return payload + str(check)


@given(values, keep_lasts, luhn_modes)
def test_the_token_keeps_length_separators_and_digit_positions(value, keep_last, luhn):
    token = CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)
    if encrypted_count(value, keep_last, luhn) < 6:
        assert token is None
        return
    assert len(token) == len(value)
    for original, new in zip(value, token, strict=True):
        if original in DIGITS:
            assert new in DIGITS
        else:
            assert new == original


@given(encryptable, keep_lasts, luhn_modes)
def test_the_last_keep_last_digits_stay_in_clear(value, keep_last, luhn):
    token = CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)
    assert token is not None
    token_digits, value_digits = digits_of(token), digits_of(value)
    assert token_digits[len(token_digits) - keep_last :] == value_digits[len(value_digits) - keep_last :]


@given(encryptable, keep_lasts, luhn_modes)
def test_decrypt_inverts_encrypt(value, keep_last, luhn):
    token = CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)
    assert token is not None
    assert CIPHER.decrypt(token, keep_last=keep_last, luhn=luhn) == value


@given(encryptable, keep_lasts, luhn_modes)
def test_encrypt_inverts_decrypt(token, keep_last, luhn):
    value = CIPHER.decrypt(token, keep_last=keep_last, luhn=luhn)
    assert value is not None
    assert CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn) == token


@given(st.one_of(card_numbers(valid=True), card_numbers(valid=False)), st.integers(0, 4), luhn_modes)
def test_cards_valid_or_not_round_trip(card, keep_last, luhn):
    token = CIPHER.encrypt(card, keep_last=keep_last, luhn=luhn)
    assert CIPHER.decrypt(token, keep_last=keep_last, luhn=luhn) == card


@pytest.mark.parametrize("luhn", ["valid", "invalid"])
def test_every_value_of_the_last_encrypted_and_computed_digits_maps_to_its_own_token(luhn):
    # 7 digits, luhn on, nothing kept: FF1 takes the first 6, the 7th is computed.
    # All 100 endings of one prefix: the tokens are 100 distinct values that decrypt back.
    values_ = [f"40312{ending:02d}" for ending in range(100)]
    tokens = [CIPHER.encrypt(v, luhn=luhn) for v in values_]
    assert len(set(tokens)) == 100
    assert [CIPHER.decrypt(t, luhn=luhn) for t in tokens] == values_


@given(card_numbers(valid=True), st.integers(0, 4))
def test_luhn_invalid_turns_a_valid_card_into_an_invalid_token(card, keep_last):
    token = CIPHER.encrypt(card, keep_last=keep_last, luhn="invalid")
    assert not is_luhn_valid(token)
    assert reference_luhn(token) != 0


@given(card_numbers(valid=True), st.integers(0, 4))
def test_luhn_valid_keeps_a_valid_card_valid(card, keep_last):
    token = CIPHER.encrypt(card, keep_last=keep_last, luhn="valid")
    assert is_luhn_valid(token)


@given(encryptable, keep_lasts, st.sampled_from(["valid", "invalid"]))
def test_the_token_residue_is_the_value_residue_plus_the_shift(value, keep_last, luhn):
    token = CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)
    assert token is not None
    expected = (reference_luhn(digits_of(value)) + LUHN_SHIFT[luhn]) % 10
    assert reference_luhn(digits_of(token)) == expected


@given(values, keep_lasts, luhn_modes)
def test_the_same_key_gives_the_same_token_in_another_cipher_object(value, keep_last, luhn):
    again = FormatPreservingCipher(KEY)
    assert again.encrypt(value, keep_last=keep_last, luhn=luhn) == CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)


@given(long_values, keep_lasts, luhn_modes)
def test_a_long_value_changes_and_another_key_gives_another_token(value, keep_last, luhn):
    # With 12 encrypted digits either equality has probability about 10**-12.
    token = CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn)
    assert token != value
    assert FormatPreservingCipher(OTHER_KEY).encrypt(value, keep_last=keep_last, luhn=luhn) != token


def test_a_six_digit_value_is_rarely_its_own_token():
    rng = random.Random(20240601)
    values_ = {f"{rng.randrange(10**6):06d}" for _ in range(3000)}
    unchanged = sum(CIPHER.encrypt(v) == v for v in values_)
    assert unchanged <= 2  # a random permutation of 10**6 values fixes about 0.003 of 3000


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "--",
        "12345",  # five digits: below the FF1 minimum
        "12-34-5",
        "4111 1111 1111 111A",
        "abc",
        "DE89 3704 0044 0532 0130 00",  # an IBAN has letters: not for fpe
        "123456789é",
        "12345678ß9",
        "Ω123456789",
        "123456五789",  # a CJK numeral is alphanumeric, not a digit 0-9
        "123456²789",  # a superscript two is neither a separator nor 0-9
        "١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits are not 0-9
    ],
)
def test_malformed_or_too_short_values_give_none(value):
    for luhn in ("any", "valid", "invalid"):
        assert CIPHER.encrypt(value, luhn=luhn) is None
        assert CIPHER.decrypt(value, luhn=luhn) is None


@pytest.mark.parametrize(
    "value,keep_last,luhn,expected_none",
    [
        ("123456", 0, "any", False),
        ("123456", 0, "valid", True),
        ("1234567", 0, "invalid", False),
        ("1234567890", 4, "any", False),
        ("1234567890", 4, "valid", True),
        ("12345678901", 4, "valid", False),
        ("123456", 7, "any", True),
    ],
)
def test_six_encrypted_digits_is_the_minimum(value, keep_last, luhn, expected_none):
    assert (CIPHER.encrypt(value, keep_last=keep_last, luhn=luhn) is None) is expected_none


def test_wrong_options_are_errors_not_none():
    with pytest.raises(ValueError, match="luhn must be one of any, valid, invalid; got 'maybe'"):
        CIPHER.encrypt("4111111111111111", luhn="maybe")
    with pytest.raises(ValueError, match="keep_last must be 0 or more; got -1"):
        CIPHER.decrypt("4111111111111111", keep_last=-1)
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        FormatPreservingCipher(b"short")


@given(st.text(alphabet=DIGITS, max_size=40))
def test_luhn_residue_equals_the_long_way_round(digits):
    assert luhn_residue(digits) == reference_luhn(digits)
    assert is_luhn_valid(digits) == (bool(digits) and reference_luhn(digits) == 0)


@pytest.mark.parametrize("number", ["79927398713", "4111111111111111", "5500000000000004", "378282246310005"])
def test_known_card_numbers_are_luhn_valid(number):
    assert luhn_residue(number) == 0 and is_luhn_valid(number)
    assert not is_luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


@pytest.mark.parametrize("text", ["4111-1111", "41a1", "４１１１"])
def test_luhn_residue_takes_digits_only(text):
    with pytest.raises(ValueError, match="0-9 only"):
        luhn_residue(text)


def test_the_docstring_examples_hold():
    assert doctest.testmod(fpe_module).failed == 0
