"""AES-256-GCM field encryption: round trips, and every way a ciphertext must refuse to open."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.field import key_id_of, seal, unseal
from veil.errors import DecryptionError
from veil.keyring import DataKey, Keyring

V1 = DataKey("encrypt", 1, bytes(range(32)))
V2 = DataKey("encrypt", 2, bytes(range(1, 33)))
RING = Keyring("test", {"encrypt": 2}, {"encrypt": {1: V1.material, 2: V2.material}})


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["users.ssn", "payments.card_number", "ünïcode.çolumn"]))
def test_round_trip_any_text(plaintext, context):
    token = seal(V2, plaintext, context)
    assert token.startswith("veil1:encrypt:v2:")
    if len(plaintext) >= 8:
        assert plaintext not in token
    assert unseal(RING.by_id, token, context) == plaintext


def test_random_nonce_makes_equal_values_differ():
    assert seal(V1, "123-45-6789", "users.ssn") != seal(V1, "123-45-6789", "users.ssn")


def test_one_text_value_carries_key_id_nonce_ciphertext_and_tag():
    token = seal(V1, "123-45-6789", "users.ssn")
    prefix, name, version, nonce, ciphertext, tag = token.split(":")
    assert (prefix, name, version) == ("veil1", "encrypt", "v1")
    assert len(nonce) == 16 and len(tag) == 22 and ciphertext   # 12 and 16 bytes, base64url
    assert key_id_of(token) == "encrypt:v1"


def test_old_versions_still_decrypt_after_rotation():
    assert unseal(RING.by_id, seal(V1, "x-1", "users.ssn"), "users.ssn") == "x-1"


@pytest.mark.parametrize(("mutate", "context", "message"), [
    (lambda t: t[:-3] + ("AAA" if t[-3:] != "AAA" else "BBB"), "users.ssn", "altered"),          # tag
    (lambda t: ":".join(p if i != 4 else p[:-2] + ("AA" if p[-2:] != "AA" else "BB")
                        for i, p in enumerate(t.split(":"))), "users.ssn", "altered"),            # ciphertext
    (lambda t: t, "users.email", "another column"),                                                # moved
    (lambda t: t.replace(":v1:", ":v2:"), "users.ssn", "altered"),                                 # wrong version
    (lambda t: t.replace(":v1:", ":v7:"), "users.ssn", "unknown key version"),                     # unknown version
    (lambda t: t.replace(":encrypt:", ":secret:"), "users.ssn", "cannot decrypt"),                 # unknown key id
    (lambda t: "veil1:encrypt:v1:garbage", "users.ssn", "not a veil ciphertext"),                 # malformed
])
def test_refuses_with_a_clear_error(mutate, context, message):
    token = seal(V1, "123-45-6789", "users.ssn")
    with pytest.raises(DecryptionError, match=message):
        unseal(RING.by_id, mutate(token), context)


def test_errors_never_echo_the_plaintext_or_the_key():
    token = seal(V1, "123-45-6789", "users.ssn")
    with pytest.raises(DecryptionError) as caught:
        unseal(RING.by_id, token, "users.email")
    assert "123-45-6789" not in str(caught.value) and V1.material.hex() not in str(caught.value)
