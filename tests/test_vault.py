"""The token vault: same value same token, new values only, nothing in clear, rotation, owners."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.fpe import is_luhn_valid
from veil.errors import DecryptionError
from veil.keyring import init_keyring, keyring_from_key, load_keyring, rotate_key
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


# --- owners: erasure without the raw values ------------------------------------


def owners(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return set(con.execute("SELECT fingerprint, owner FROM owners").fetchall())


def test_owners_are_keyed_digests_of_the_subjects(vault, tmp_path):
    vault.tokenize(CARDS[:2] + [None, CARDS[0]], keep_last=4, luhn="invalid", subjects=["ada", "bob", "cy", "cy"])
    vault.tokenize([CARDS[0]], keep_last=4, luhn="invalid", subjects=["ada"])      # already bound: no new row
    vault.close()
    fp = [vault.fingerprint(card, 4, "invalid") for card in CARDS[:2]]
    assert owners(tmp_path / "vault.duckdb") == {
        (fp[0], vault.owner_digest("ada")), (fp[1], vault.owner_digest("bob")), (fp[0], vault.owner_digest("cy"))}
    assert len(vault.owner_digest("ada")) == 64 and vault.owner_digest("ada") != vault.owner_digest("bob")
    data = (tmp_path / "vault.duckdb").read_bytes()
    import hashlib

    assert hashlib.sha256(b"ada").hexdigest().encode() not in data


def test_a_value_shared_by_two_subjects_has_one_token_and_outlives_one_of_them(vault):
    shared, only_ada = vault.tokenize([CARDS[0], CARDS[1]], subjects=["ada", "ada"])
    (again,) = vault.tokenize([CARDS[0]], subjects=["bob"])
    assert again == shared and vault.count() == 2
    assert vault.count_owned(["ada", "bob", "nobody"]) == {"ada": 2, "bob": 1}
    assert vault.forget_subjects(["ada"]) == {"ada": 2}
    assert vault.detokenize(shared) == CARDS[0]                     # bob still owns it
    with pytest.raises(DecryptionError, match="not in the vault"):
        vault.detokenize(only_ada)
    assert vault.count_owned(["ada", "bob"]) == {"bob": 1}
    assert vault.forget_subjects(["bob", "bob"]) == {"bob": 1}
    assert vault.count() == 0
    assert vault.forget_subjects(["bob"]) == {} and vault.forget_subjects([]) == {}


def test_forgetting_subjects_leaves_legacy_ownerless_entries(vault, tmp_path):
    legacy = vault.tokenize([CARDS[2]])[0]                           # tokenized before owners existed
    owned = vault.tokenize([CARDS[3]], subjects=["ada"])[0]
    unbound = vault.tokenize([CARDS[2], CARDS[3]], subjects=[None, None])
    assert unbound == [legacy, owned]                                # a NULL subject binds nobody
    assert vault.forget_subjects(["ada"]) == {"ada": 1}
    assert vault.detokenize(legacy) == CARDS[2] and vault.count() == 1
    with pytest.raises(DecryptionError):
        vault.detokenize(owned)
    vault.close()
    assert owners(tmp_path / "vault.duckdb") == set()


def test_forget_by_fingerprint_takes_the_owners_along_or_only_legacy_entries(vault, tmp_path):
    legacy, owned = vault.tokenize([CARDS[0]])[0], vault.tokenize([CARDS[1]], subjects=["ada"])[0]
    fps = [vault.fingerprint(card, 0, "any") for card in CARDS[:2]]
    assert vault.count_fingerprints({"x": fps}) == {"x": 2}
    assert vault.count_fingerprints({"x": fps}, only_ownerless=True) == {"x": 1}
    assert vault.forget(fps, only_ownerless=True) == 1
    assert vault.detokenize(owned) == CARDS[1]
    with pytest.raises(DecryptionError):
        vault.detokenize(legacy)
    assert vault.forget(fps) == 1 and vault.count() == 0
    assert vault.count_owned(["ada"]) == {}
    vault.close()
    assert owners(tmp_path / "vault.duckdb") == set()


def test_a_value_without_a_token_owns_nothing(vault, tmp_path):
    assert vault.tokenize(["----", "", "4111"], keep_last=4, subjects=["ada", "ada", "ada"]) == [None, None, None]
    assert vault.count_owned(["ada"]) == {}
    vault.close()
    assert owners(tmp_path / "vault.duckdb") == set()


def test_subjects_must_be_parallel_to_values(vault):
    with pytest.raises(ValueError, match="1 subjects for 2 values"):
        vault.tokenize(CARDS[:2], subjects=["ada"])
    assert vault.count() == 0


def test_a_vault_file_from_before_owners_keeps_working(vault, tmp_path, keyring_path):
    legacy = vault.tokenize([CARDS[0]])[0]
    vault.close()
    with duckdb.connect(str(tmp_path / "vault.duckdb")) as con:
        con.execute("DROP TABLE owners")                             # as an older veil wrote it
    reopened = Vault(tmp_path / "vault.duckdb", load_keyring({"VEIL_KEYRING": str(keyring_path)}))
    assert reopened.tokenize([CARDS[0], CARDS[1]], subjects=["ada", "ada"])[0] == legacy
    assert reopened.count_owned(["ada"]) == {"ada": 2}
    reopened.close()


def test_owners_survive_key_rotation(vault, keyring_path, tmp_path):
    token = vault.tokenize([CARDS[0]], subjects=["ada"])[0]
    digest = vault.owner_digest("ada")
    vault.close()
    rotate_key(keyring_path, "vault")
    rotated = Vault(tmp_path / "vault.duckdb", load_keyring({"VEIL_KEYRING": str(keyring_path)}))
    assert rotated.owner_digest("ada") == digest
    assert rotated.forget_subjects(["ada"]) == {"ada": 1}
    with pytest.raises(DecryptionError):
        rotated.detokenize(token)
    rotated.close()


VALUES = [f"4111{i:012d}" for i in range(8)]
SUBJECTS = ["s0", "s1", "s2", "s3", "s4"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(VALUES), st.sampled_from(SUBJECTS + [None])), max_size=30),
       st.sets(st.sampled_from(SUBJECTS)))
def test_forget_subjects_never_removes_a_token_someone_else_still_owns(pairs, forgotten):
    with tempfile.TemporaryDirectory() as directory:
        vault = Vault(Path(directory) / "vault.duckdb", keyring_from_key(bytes(32)))
        try:
            tokens = dict(zip([v for v, _ in pairs], vault.tokenize([v for v, _ in pairs],
                                                                  subjects=[s for _, s in pairs])))
            owned_by: dict[str, set[str]] = {}
            for value, subject in pairs:
                owned_by.setdefault(value, set()).update({subject} - {None})
            removed = vault.forget_subjects(sorted(forgotten))
            assert removed == {s: n for s in sorted(forgotten)
                               if (n := sum(s in who for who in owned_by.values()))}
            for value, token in tokens.items():
                survives = not owned_by[value] or bool(owned_by[value] - forgotten)   # legacy or still owned
                if survives:
                    assert vault.detokenize(token) == value
                else:
                    with pytest.raises(DecryptionError):
                        vault.detokenize(token)
            left = {s for who in owned_by.values() for s in who - forgotten}
            assert vault.count_owned(SUBJECTS) == {
                s: sum(s in who for who in owned_by.values()) for s in sorted(left)}
        finally:
            vault.close()
