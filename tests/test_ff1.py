"""FF1 equals NIST SP 800-38G: the NIST samples, a textbook transcription, the limits."""

from __future__ import annotations

import doctest
import math

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto import ff1 as ff1_module
from veil.crypto.ff1 import ALPHABET, FF1, min_length

KEY_128 = "2B7E151628AED2A6ABF7158809CF4F3C"
KEY_192 = KEY_128 + "EF4359D8D580AA4F"
KEY_256 = KEY_192 + "7F036D6F04FC6A94"
TWEAK_10 = "39383736353433323130"
TWEAK_36 = "3737373770717273373737"
DIGITS_10 = "0123456789"
DIGITS_36 = "0123456789abcdefghi"

# NIST "FF1samples.pdf" (CSRC example values for SP 800-38G), samples 1-9:
# (key, radix, tweak, plaintext, ciphertext), all hex but the digit strings.
NIST_SAMPLES = [
    (KEY_128, 10, "", DIGITS_10, "2433477484"),
    (KEY_128, 10, TWEAK_10, DIGITS_10, "6124200773"),
    (KEY_128, 36, TWEAK_36, DIGITS_36, "a9tv40mll9kdu509eum"),
    (KEY_192, 10, "", DIGITS_10, "2830668132"),
    (KEY_192, 10, TWEAK_10, DIGITS_10, "2496655549"),
    (KEY_192, 36, TWEAK_36, DIGITS_36, "xbj3kv35jrawxv32ysr"),
    (KEY_256, 10, "", DIGITS_10, "6657667009"),
    (KEY_256, 10, TWEAK_10, DIGITS_10, "1001623463"),
    (KEY_256, 36, TWEAK_36, DIGITS_36, "xs8a0azh2avyalyzuwd"),
]
SAMPLE_IDS = [f"sample-{i}" for i in range(1, 10)]


def textbook_ff1(key: bytes, radix: int, tweak: bytes, text: str, *, encrypt: bool) -> str:
    """Algorithms 7 and 8 read line by line: strings, bytes, a fresh CBC per PRF call.

    Slow and plain on purpose, to check the optimised FF1 where the NIST
    samples do not reach (long inputs, S longer than one block, long tweaks).
    """

    def num(digits: str) -> int:
        value = 0
        for ch in digits:
            value = value * radix + ALPHABET.index(ch)
        return value

    def string(value: int, length: int) -> str:
        out = ""
        for _ in range(length):
            value, digit = divmod(value, radix)
            out = ALPHABET[digit] + out
        return out

    def prf(data: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
        return (encryptor.update(data) + encryptor.finalize())[-16:]

    def ciph(block: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return encryptor.update(block) + encryptor.finalize()

    n, t = len(text), len(tweak)
    u = n // 2
    v = n - u
    a, b = text[:u], text[u:]
    b_len = math.ceil(math.ceil(v * math.log2(radix)) / 8)
    d = 4 * math.ceil(b_len / 4) + 4
    p = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256])
    p += n.to_bytes(4, "big") + t.to_bytes(4, "big")
    rounds = range(10) if encrypt else reversed(range(10))
    for i in rounds:
        source = b if encrypt else a
        q = tweak + bytes((-t - b_len - 1) % 16) + bytes([i]) + num(source).to_bytes(b_len, "big")
        r = prf(p + q)
        s = r
        for j in range(1, math.ceil(d / 16)):
            s += ciph(bytes(x ^ y for x, y in zip(r, j.to_bytes(16, "big"))))
        y = int.from_bytes(s[:d], "big")
        m = u if i % 2 == 0 else v
        if encrypt:
            c = (num(a) + y) % radix**m
            a, b = b, string(c, m)
        else:
            c = (num(b) - y) % radix**m
            a, b = string(c, m), a
    return a + b


@pytest.mark.parametrize("key_hex,radix,tweak_hex,plaintext,ciphertext", NIST_SAMPLES, ids=SAMPLE_IDS)
def test_encrypt_gives_the_nist_sample_ciphertext(key_hex, radix, tweak_hex, plaintext, ciphertext):
    cipher = FF1(bytes.fromhex(key_hex), radix)
    assert cipher.encrypt(plaintext, tweak=bytes.fromhex(tweak_hex)) == ciphertext


@pytest.mark.parametrize("key_hex,radix,tweak_hex,plaintext,ciphertext", NIST_SAMPLES, ids=SAMPLE_IDS)
def test_decrypt_gives_the_nist_sample_plaintext(key_hex, radix, tweak_hex, plaintext, ciphertext):
    cipher = FF1(bytes.fromhex(key_hex), radix)
    assert cipher.decrypt(ciphertext, tweak=bytes.fromhex(tweak_hex)) == plaintext


@pytest.mark.parametrize("key_hex,radix,tweak_hex,plaintext,ciphertext", NIST_SAMPLES, ids=SAMPLE_IDS)
def test_the_textbook_transcription_also_gives_the_nist_samples(key_hex, radix, tweak_hex, plaintext, ciphertext):
    key, tweak = bytes.fromhex(key_hex), bytes.fromhex(tweak_hex)
    assert textbook_ff1(key, radix, tweak, plaintext, encrypt=True) == ciphertext
    assert textbook_ff1(key, radix, tweak, ciphertext, encrypt=False) == plaintext


@st.composite
def ff1_cases(draw, max_length=80):
    """A key, a radix, a tweak and a digit string FF1 accepts, lengths up to `max_length`."""
    key = draw(st.sampled_from([16, 24, 32]).flatmap(lambda size: st.binary(min_size=size, max_size=size)))
    radix = draw(st.integers(2, 36))
    length = draw(st.integers(min_length(radix), max(min_length(radix), max_length)))
    text = draw(st.text(alphabet=ALPHABET[:radix], min_size=length, max_size=length))
    tweak = draw(st.binary(max_size=40))
    return key, radix, tweak, text


@settings(max_examples=60, deadline=None)
@given(ff1_cases())
def test_ff1_equals_the_textbook_transcription_in_both_directions(case):
    key, radix, tweak, text = case
    cipher = FF1(key, radix)
    assert cipher.encrypt(text, tweak) == textbook_ff1(key, radix, tweak, text, encrypt=True)
    assert cipher.decrypt(text, tweak) == textbook_ff1(key, radix, tweak, text, encrypt=False)


@settings(max_examples=200, deadline=None)
@given(ff1_cases(max_length=200))
def test_decrypt_inverts_encrypt_and_keeps_length_and_alphabet(case):
    key, radix, tweak, text = case
    cipher = FF1(key, radix)
    token = cipher.encrypt(text, tweak)
    assert len(token) == len(text)
    assert set(token) <= set(ALPHABET[:radix])
    assert cipher.decrypt(token, tweak) == text


def test_the_tweak_changes_the_ciphertext():
    cipher = FF1(bytes.fromhex(KEY_128))
    tokens = {cipher.encrypt("4111111111111111", tweak=bytes([i])) for i in range(20)}
    assert len(tokens) == 20


class CountingEncryptor:
    def __init__(self, inner):
        self.inner, self.blocks = inner, 0

    def update(self, data: bytes) -> bytes:
        self.blocks += len(data) // 16
        return self.inner.update(data)


def test_a_16_digit_value_with_an_empty_tweak_costs_one_aes_block_per_round():
    cipher = FF1(bytes.fromhex(KEY_256))
    counter = cipher._ecb = CountingEncryptor(cipher._ecb)
    cipher.encrypt("4111111111111111")
    assert counter.blocks == 1 + 10  # E(P) once for this length, then one block per round
    cipher.encrypt("5500000000000004")
    cipher.decrypt("5500000000000004")
    assert counter.blocks == 11 + 10 + 10


@pytest.mark.parametrize("size", [0, 8, 15, 17, 31, 33, 64])
def test_a_key_that_is_not_an_aes_key_is_refused(size):
    with pytest.raises(ValueError, match="16, 24 or 32 bytes; got"):
        FF1(bytes(size))


@pytest.mark.parametrize("radix", [-1, 0, 1, 37, 2**16])
def test_a_radix_outside_2_to_36_is_refused(radix):
    with pytest.raises(ValueError, match="radix must be between 2 and 36"):
        FF1(bytes(16), radix)


@pytest.mark.parametrize("radix,shortest", [(2, 20), (3, 13), (10, 6), (16, 5), (36, 4)])
def test_the_shortest_input_is_the_first_length_with_a_million_values(radix, shortest):
    assert radix**shortest >= 1_000_000 > radix ** (shortest - 1)
    cipher = FF1(bytes(16), radix)
    text = ALPHABET[radix - 1] * shortest
    assert cipher.decrypt(cipher.encrypt(text)) == text
    with pytest.raises(ValueError, match=f"takes {shortest} to 4294967296 digits"):
        cipher.encrypt(text[1:])
    with pytest.raises(ValueError, match=f"takes {shortest} to 4294967296 digits"):
        cipher.decrypt(text[1:])


@pytest.mark.parametrize(
    "text", ["01234a6789", "0123456789 ", "+123456789", "1_23456789", "١٢٣٤٥٦٧٨٩٠", "ABCDEF"]
)
def test_a_character_outside_the_alphabet_is_refused_without_echoing_it(text):
    radix = 16 if text == "ABCDEF" else 10
    with pytest.raises(ValueError, match="the character at position") as error:
        FF1(bytes(16), radix).encrypt(text)
    assert text not in str(error.value)


def test_the_length_and_tweak_limits_come_from_the_spec(monkeypatch):
    cipher = FF1(bytes(16))
    monkeypatch.setattr(ff1_module, "MAX_LEN", 8)
    with pytest.raises(ValueError, match="takes 6 to 8 digits"):
        cipher.encrypt("123456789")
    monkeypatch.setattr(ff1_module, "MAX_TWEAK_LEN", 3)
    with pytest.raises(ValueError, match="at most 3 bytes; got 4"):
        cipher.encrypt("123456", tweak=b"abcd")
    assert cipher.decrypt(cipher.encrypt("123456", tweak=b"abc"), tweak=b"abc") == "123456"


def test_the_docstring_examples_hold():
    assert doctest.testmod(ff1_module).failed == 0
