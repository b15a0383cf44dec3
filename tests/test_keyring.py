"""The keyring: named, versioned data keys wrapped by a KMS, and where a build finds them."""

from __future__ import annotations

import base64
import doctest
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import veil.keyring
from veil.errors import KeyConfigError
from veil.keyring import (
    KEY_NAMES,
    PROVIDERS,
    DataKey,
    Keyring,
    KmsClient,
    LocalKms,
    init_keyring,
    keyring_from_key,
    load_keyring,
    rotate_key,
)
from veil.keyring import env as keyring_env
from veil.keyring import files, kms, ring, store

TEST_HEX = "0123456789abcdef" * 4  # an obvious test value, not a secret


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return init_keyring(tmp_path / ".veil" / "keyring.json")


def load(path: Path) -> Keyring:
    ring = load_keyring({"VEIL_KEYRING": str(path)})
    assert ring is not None
    return ring


def all_keys(ring: Keyring) -> list[DataKey]:
    return [ring.get(name, version) for name in ring.names() for version in ring.versions(name)]


def edit_json(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))  # write_text keeps the file's 0600 mode


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(KeyConfigError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def assert_hides(text: str, keys: list[DataKey]) -> None:
    for key in keys:
        encoded = base64.b64encode(key.material).decode()
        for shown in (key.material.hex(), key.material.hex().upper(), encoded, repr(key.material)):
            assert shown not in text


# -- creating a keyring


def test_init_creates_private_files_without_any_plaintext_key(keyring_path: Path):
    kek_path = keyring_path.parent / "master.key"
    for path in (keyring_path, kek_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(kek_path.read_text().strip()) == 64

    text = keyring_path.read_text()
    document = json.loads(text)
    assert document["format"] == "veil-keyring/1"
    assert document["kek"] == {"provider": "local", "key_file": "master.key"}
    assert list(document["keys"]) == list(KEY_NAMES)

    keys = all_keys(load(keyring_path))
    assert [key.key_id for key in keys] == [f"{name}:v1" for name in KEY_NAMES]
    assert len({key.material for key in keys}) == len(KEY_NAMES)  # each a fresh random key
    assert_hides(text, keys)
    for key in keys:
        assert key.material not in keyring_path.read_bytes()
    assert kek_path.read_text().strip() not in text


def test_init_refuses_to_overwrite_a_keyring(keyring_path: Path):
    before = keyring_path.read_bytes()
    message = error_of(init_keyring, keyring_path)
    assert str(keyring_path) in message and "already exists" in message
    assert keyring_path.read_bytes() == before


def test_init_reuses_an_existing_kek_and_names_one_outside_the_folder(tmp_path: Path):
    kek_path = tmp_path / "secrets" / "kek.key"
    kek_path.parent.mkdir()
    kek_path.write_text(TEST_HEX + "\n")
    kek_path.chmod(0o600)
    keyring_path = init_keyring(tmp_path / "project" / "keyring.json", kek_path=kek_path)

    assert kek_path.read_text().strip() == TEST_HEX
    assert json.loads(keyring_path.read_text())["kek"]["key_file"] == str(kek_path)
    assert load(keyring_path).primary("encrypt").version == 1


def test_init_refuses_a_kek_others_can_read(tmp_path: Path):
    kek_path = tmp_path / "master.key"
    kek_path.write_text(TEST_HEX)
    kek_path.chmod(0o640)
    message = error_of(init_keyring, tmp_path / "keyring.json", kek_path=kek_path)
    assert f"chmod 600 {kek_path}" in message
    assert not (tmp_path / "keyring.json").exists()


# -- reading keys


def test_primary_get_and_by_id_return_the_same_keys(keyring_path: Path):
    ring = load(keyring_path)
    assert ring.source == f"keyring {keyring_path}"
    for name in KEY_NAMES:
        primary = ring.primary(name)
        assert (primary.name, primary.version, primary.key_id) == (name, 1, f"{name}:v1")
        assert len(primary.material) == 32
        assert ring.get(name, 1) == primary == ring.by_id(f"{name}:v1")
        assert ring.versions(name) == [1]
    assert load(keyring_path).primary("hmac") == ring.primary("hmac")  # the same file unwraps the same


def test_rotate_makes_a_new_primary_and_old_versions_still_load(keyring_path: Path):
    before = load(keyring_path)
    old = before.primary("encrypt")

    new = rotate_key(keyring_path, "encrypt")
    assert new.key_id == "encrypt:v2" and new.material != old.material
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    assert sorted(path.name for path in keyring_path.parent.iterdir()) == ["keyring.json", "master.key"]

    after = load(keyring_path)
    assert after.primary("encrypt") == new
    assert after.versions("encrypt") == [1, 2]
    assert after.by_id("encrypt:v1") == old
    for name in ("hmac", "fpe", "vault"):
        assert after.primary(name) == before.primary(name)

    third = rotate_key(keyring_path, "encrypt")
    assert load(keyring_path).primary("encrypt").key_id == third.key_id == "encrypt:v3"
    assert_hides(keyring_path.read_text(), [old, new, third])


def test_rotate_refuses_an_unknown_name(keyring_path: Path):
    assert "unknown key 'tokens'" in error_of(rotate_key, keyring_path, "tokens")


def test_rotate_refuses_a_kek_that_cannot_open_the_current_primary(keyring_path: Path):
    before = keyring_path.read_bytes()
    replace_kek(keyring_path.parent / "master.key")
    assert "cannot unwrap encrypt:v1" in error_of(rotate_key, keyring_path, "encrypt")
    assert keyring_path.read_bytes() == before


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda ring: ring.primary("tokens"), "unknown key 'tokens'"),
        (lambda ring: ring.versions("tokens"), "unknown key 'tokens'"),
        (lambda ring: ring.get("encrypt", 7), "unknown key version encrypt:v7"),
        (lambda ring: ring.by_id("encrypt:v7"), "unknown key version encrypt:v7"),
        (lambda ring: ring.by_id("tokens:v1"), "unknown key 'tokens'"),
        (lambda ring: ring.by_id("encrypt:2"), "malformed key id 'encrypt:2'"),
        (lambda ring: ring.by_id("encrypt:v0"), "malformed key id"),
        (lambda ring: ring.by_id("encrypt"), "malformed key id"),
        (lambda ring: ring.by_id(""), "malformed key id"),
        (lambda ring: ring.by_id("encrypt:v1 "), "malformed key id"),
        (lambda ring: ring.by_id("x" * 500), "malformed key id"),
    ],
)
def test_unknown_and_malformed_key_ids_are_refused(keyring_path: Path, call, expected: str):
    message = error_of(call, load(keyring_path))
    assert expected in message
    assert len(message) < 200


def test_a_missing_name_is_reported_and_rotate_adds_it(keyring_path: Path):
    edit_json(keyring_path, lambda document: document["keys"].pop("vault"))
    assert "has no key 'vault'" in error_of(load(keyring_path).primary, "vault")
    assert rotate_key(keyring_path, "vault").key_id == "vault:v1"
    assert list(json.loads(keyring_path.read_text())["keys"]) == list(KEY_NAMES)
    assert load(keyring_path).primary("vault").key_id == "vault:v1"


# -- what is refused


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o620])
def test_a_keyring_others_can_access_is_refused(keyring_path: Path, mode: int):
    keyring_path.chmod(mode)
    message = error_of(load, keyring_path)
    assert f"chmod 600 {keyring_path}" in message
    assert f"{mode:04o}" in message
    assert f"chmod 600 {keyring_path}" in error_of(rotate_key, keyring_path, "encrypt")


def test_a_kek_others_can_read_is_refused(keyring_path: Path):
    kek_path = keyring_path.parent / "master.key"
    kek_path.chmod(0o644)
    message = error_of(load, keyring_path)
    assert f"chmod 600 {kek_path}" in message
    assert TEST_HEX not in message and kek_path.read_text().strip() not in message


def test_a_tampered_wrapped_key_is_refused(keyring_path: Path):
    def flip_a_bit(document):
        blob = bytearray(base64.b64decode(document["keys"]["encrypt"]["versions"]["1"]["wrapped"]))
        blob[20] ^= 0x01
        document["keys"]["encrypt"]["versions"]["1"]["wrapped"] = base64.b64encode(bytes(blob)).decode()

    edit_json(keyring_path, flip_a_bit)
    ring = load(keyring_path)
    assert ring.primary("hmac").key_id == "hmac:v1"  # the untouched keys still unwrap
    message = error_of(ring.primary, "encrypt")
    assert message.startswith(f"cannot unwrap encrypt:v1 from keyring {keyring_path}: ")


def test_a_wrapped_key_moved_to_another_slot_is_refused(keyring_path: Path):
    def swap(document):
        keys = document["keys"]
        keys["hmac"]["versions"]["1"], keys["encrypt"]["versions"]["1"] = (
            keys["encrypt"]["versions"]["1"], keys["hmac"]["versions"]["1"])

    edit_json(keyring_path, swap)
    ring = load(keyring_path)
    assert "cannot unwrap hmac:v1" in error_of(ring.primary, "hmac")
    assert "cannot unwrap encrypt:v1" in error_of(ring.primary, "encrypt")


def test_a_wrapped_key_moved_to_another_version_is_refused(keyring_path: Path):
    rotate_key(keyring_path, "encrypt")
    edit_json(keyring_path, lambda document: document["keys"]["encrypt"]["versions"].update(
        {"2": document["keys"]["encrypt"]["versions"]["1"]}))
    ring = load(keyring_path)
    assert ring.get("encrypt", 1).key_id == "encrypt:v1"
    assert "cannot unwrap encrypt:v2" in error_of(ring.primary, "encrypt")


def test_a_truncated_wrapped_key_is_refused(keyring_path: Path):
    short = base64.b64encode(b"short").decode()
    edit_json(keyring_path, lambda document: document["keys"]["fpe"]["versions"]["1"].update(wrapped=short))
    assert "cannot unwrap fpe:v1" in error_of(load(keyring_path).primary, "fpe")


def replace_kek(kek_path: Path) -> None:
    kek_path.write_text("f" * 64 + "\n")


def test_a_wrong_kek_is_refused(keyring_path: Path):
    replace_kek(keyring_path.parent / "master.key")
    ring = load(keyring_path)
    for name in KEY_NAMES:
        assert f"cannot unwrap {name}:v1" in error_of(ring.primary, name)


LOCAL_KEK = {"provider": "local", "key_file": "master.key"}
FORMAT = "veil-keyring/1"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ([], "must hold a JSON object"),
        ({"kek": LOCAL_KEK, "keys": {}}, "format: Field required"),
        ({"format": "veil-keyring/9", "kek": LOCAL_KEK, "keys": {}}, "format: Input should be 'veil-keyring/1'"),
        ({"format": FORMAT, "keys": {}}, "kek: Field required"),
        ({"format": FORMAT, "kek": LOCAL_KEK}, "keys: Field required"),
        ({"format": FORMAT, "kek": {}, "keys": {}}, "kek: must name a provider"),
        ({"format": FORMAT, "kek": {"provider": "aws-kms"}, "keys": {}}, "kek.provider 'aws-kms' is not known"),
        ({"format": FORMAT, "kek": {"provider": "local"}, "keys": {}}, "kek.key_file must name"),
        ({"format": FORMAT, "kek": {**LOCAL_KEK, "key_file": "gone.key"}, "keys": {}}, "gone.key does not exist"),
        ({"format": FORMAT, "kek": {**LOCAL_KEK, "region": "x"}, "keys": {}}, "kek.region is not a setting"),
        ({"format": FORMAT, "kek": LOCAL_KEK, "keys": {"tokens": {}}}, "keys.tokens"),
        ({"format": FORMAT, "kek": LOCAL_KEK, "keys": {}, "extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_keyring_names_the_path_and_the_problem(tmp_path: Path, content, expected: str):
    init_keyring(tmp_path / "other.json")  # makes tmp_path/master.key
    path = tmp_path / "keyring.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    path.chmod(0o600)
    message = error_of(load, path)
    assert str(path) in message and expected in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda key: key.update(primary="1"), "keys.encrypt.primary: Input should be a valid integer"),
        (lambda key: key.update(primary=2), "keys.encrypt: primary version 2 is not among the versions"),
        (lambda key: key.update(versions={}), "keys.encrypt: primary version 1 is not among the versions"),
        (lambda key: key["versions"].update({"01": key["versions"]["1"]}), "version '01' is not a whole number"),
        (lambda key: key["versions"]["1"].update(wrapped="*not base64*"),
         "keys.encrypt.versions.1.wrapped: is not valid base64"),
        (lambda key: key["versions"]["1"].pop("created_at"), "keys.encrypt.versions.1.created_at: Field required"),
    ],
)
def test_a_malformed_key_entry_names_where(keyring_path: Path, change, expected: str):
    edit_json(keyring_path, lambda document: change(document["keys"]["encrypt"]))
    message = error_of(load, keyring_path)
    assert message.startswith(f"keyring {keyring_path}: ") and expected in message


# -- where the keyring comes from


def test_veil_key_becomes_a_one_version_keyring():
    key = bytes.fromhex(TEST_HEX)
    ring = load_keyring({"VEIL_KEY": TEST_HEX})
    assert ring is not None and ring.source == "VEIL_KEY"
    assert ring.primary("hmac") == DataKey("hmac", 1, key)  # old pseudonyms do not change
    for name in KEY_NAMES:
        assert ring.versions(name) == [1]
        assert ring.by_id(f"{name}:v1") == ring.primary(name)

    derived = {name: ring.primary(name).material for name in KEY_NAMES}
    assert len(set(derived.values())) == len(KEY_NAMES)
    for name in ("fpe", "vault", "encrypt"):
        assert derived[name] == rfc5869_hkdf_sha256(key, b"veil/" + name.encode())
    again = load_keyring({"VEIL_KEY": TEST_HEX})
    assert {name: again.primary(name).material for name in KEY_NAMES} == derived


def rfc5869_hkdf_sha256(key: bytes, info: bytes) -> bytes:
    """HKDF written out from RFC 5869, to check the library call; no salt means 32 zero bytes."""
    prk = hmac.new(bytes(32), key, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


@given(st.binary(min_size=32, max_size=32))
def test_keys_derived_from_any_veil_key_are_distinct(key: bytes):
    ring = keyring_from_key(key)
    assert ring.primary("hmac").material == key
    assert len({ring.primary(name).material for name in KEY_NAMES}) == len(KEY_NAMES)


def test_veil_key_file_is_accepted(tmp_path: Path):
    key_file = tmp_path / "veil.key"
    key_file.write_text(TEST_HEX)
    ring = load_keyring({"VEIL_KEY_FILE": str(key_file)})
    assert ring is not None and ring.primary("hmac").material == bytes.fromhex(TEST_HEX)


@pytest.mark.parametrize("single", ["VEIL_KEY", "VEIL_KEY_FILE"])
def test_veil_keyring_with_a_single_key_is_ambiguous(keyring_path: Path, single: str):
    message = error_of(load_keyring, {"VEIL_KEYRING": str(keyring_path), single: TEST_HEX})
    assert "VEIL_KEYRING" in message and single in message and TEST_HEX not in message


def test_veil_keyring_pointing_nowhere_is_refused(tmp_path: Path):
    missing = tmp_path / "nope" / "keyring.json"
    message = error_of(load_keyring, {"VEIL_KEYRING": str(missing)})
    assert message == f"VEIL_KEYRING points to {missing}, which does not exist"


def test_the_default_keyring_is_the_projects_own(tmp_path: Path, monkeypatch):
    from veil.project import Project

    project_dir = tmp_path / "project"
    project_dir.mkdir()
    assert load_keyring({}) is None
    assert load_keyring({"VEIL_KEYRING": "", "VEIL_KEY": ""}) is None
    assert Project.load(project_dir, env={}).keyring() is None

    init_keyring(project_dir / ".veil/keyring.json")
    ring = Project.load(project_dir, env={}).keyring()
    assert ring is not None and ring.primary("encrypt").key_id == "encrypt:v1"
    assert Project.load(project_dir, env={"VEIL_KEY": TEST_HEX}).keyring().source == "VEIL_KEY"  # explicit wins


def test_the_default_never_follows_the_current_directory(tmp_path: Path, monkeypatch):
    from veil.project import Project

    project_dir, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project_dir.mkdir()
    elsewhere.mkdir()
    init_keyring(elsewhere / ".veil/keyring.json")
    monkeypatch.chdir(elsewhere)
    assert load_keyring({}) is None                       # a keyring of the cwd is nobody's default
    assert Project.load(project_dir, env={}).keyring() is None
    init_keyring(project_dir / ".veil/keyring.json")
    monkeypatch.chdir(tmp_path)
    assert Project.load("project", env={}).keyring_path == project_dir.resolve() / ".veil/keyring.json"
    assert Project.load(project_dir, env={"VEIL_KEYRING": ".veil/keyring.json"}).keyring() is not None


# -- a pluggable KMS


class XorKms:
    """A stand-in for a cloud KMS: wraps by XOR with a pad, checks the context itself."""

    def __init__(self, config: dict, folder: Path):
        self.config = config
        self.pad = hashlib.sha256(config["account"].encode()).digest()

    def generate_data_key(self, context: str) -> tuple[bytes, bytes]:
        plaintext = os.urandom(32)
        return plaintext, context.encode() + b"|" + bytes(a ^ b for a, b in zip(plaintext, self.pad))

    def decrypt(self, wrapped: bytes, context: str) -> bytes:
        bound, _, body = wrapped.partition(b"|")   # the context never holds "|"; the body may
        if bound != context.encode() or len(body) != 32:
            raise KeyConfigError("wrapped for another key")
        return bytes(a ^ b for a, b in zip(body, self.pad))

    def describe(self) -> dict:
        return dict(self.config)


def test_a_registered_kms_provider_is_used(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(PROVIDERS, "xor", XorKms)
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({"format": "veil-keyring/1", "kek": {"provider": "xor", "account": "test"}, "keys": {}}))
    path.chmod(0o600)

    made = {name: rotate_key(path, name) for name in KEY_NAMES}
    made["encrypt:v2"] = rotate_key(path, "encrypt")

    ring = load(path)
    for name in KEY_NAMES:
        assert ring.by_id(f"{name}:v1") == made[name]
    assert ring.primary("encrypt") == made["encrypt:v2"]
    assert json.loads(path.read_text())["kek"] == {"provider": "xor", "account": "test"}
    assert isinstance(XorKms({"account": "a"}, tmp_path), KmsClient)

    edit_json(path, lambda d: d["kek"].update(account="other"))  # the provider reads its own settings
    assert load(path).primary("hmac") != made["hmac"]
    edit_json(path, lambda d: d["keys"]["hmac"]["versions"].update({"1": d["keys"]["fpe"]["versions"]["1"]}))
    assert "cannot unwrap hmac:v1" in error_of(load(path).primary, "hmac")


def test_a_kms_returning_a_wrong_size_key_is_refused(tmp_path: Path, monkeypatch):
    class ShortKms(XorKms):
        def decrypt(self, wrapped: bytes, context: str) -> bytes:
            return super().decrypt(wrapped, context)[:16]

    monkeypatch.setitem(PROVIDERS, "xor", XorKms)
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({"format": "veil-keyring/1", "kek": {"provider": "xor", "account": "a"}, "keys": {}}))
    path.chmod(0o600)
    rotate_key(path, "encrypt")
    monkeypatch.setitem(PROVIDERS, "xor", ShortKms)
    assert "cannot unwrap encrypt:v1" in error_of(load(path).primary, "encrypt")


# -- nothing shows key material


def test_reprs_and_strings_hide_key_material(keyring_path: Path):
    ring = load(keyring_path)
    keys = all_keys(ring)
    shown = [repr(ring), str(ring), *map(repr, keys), *map(str, keys)]
    shown.append(repr(LocalKms(bytes.fromhex(TEST_HEX), key_file="master.key")))
    shown.append(repr(keyring_from_key(bytes.fromhex(TEST_HEX))))
    assert_hides("\n".join(shown), keys + all_keys(keyring_from_key(bytes.fromhex(TEST_HEX))))
    assert TEST_HEX not in "\n".join(shown)
    assert repr(keys[0]) == "DataKey(name='hmac', version=1)"


def test_a_malformed_kek_is_refused_without_echoing_it(keyring_path: Path):
    kek_path = keyring_path.parent / "master.key"
    kek_path.write_text(TEST_HEX[:-2] + "zz")
    message = error_of(load, keyring_path)
    assert str(kek_path) in message and "64 hex characters" in message
    assert TEST_HEX[:-2] not in message


def test_a_data_key_must_be_32_bytes():
    message = error_of(DataKey, "encrypt", 1, b"\x07" * 31)
    assert "encrypt:v1 must be 32 bytes" in message and "0707" not in message


def test_docstring_examples_run():
    for module in (veil.keyring, files, kms, ring, store, keyring_env):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
