"""Loading the key from VEIL_KEY / VEIL_KEY_FILE, and generating a local one."""

from __future__ import annotations

import stat

import pytest

from veil.errors import KeyConfigError
from veil.keys import generate_key_file, load_key

TEST_HEX = "0123456789abcdef" * 4  # an obvious test value, not a secret


def test_neither_variable_means_no_key():
    assert load_key({}) is None
    assert load_key({"VEIL_KEY": "", "VEIL_KEY_FILE": ""}) is None


def test_key_from_env():
    assert load_key({"VEIL_KEY": TEST_HEX}) == bytes.fromhex(TEST_HEX)
    assert load_key({"VEIL_KEY": f"  {TEST_HEX.upper()}\n"}) == bytes.fromhex(TEST_HEX)


@pytest.mark.parametrize(
    "bad", ["abc", TEST_HEX[:-1], TEST_HEX + "00", "g" + TEST_HEX[1:], TEST_HEX[:32] + " " + TEST_HEX[33:]]
)
def test_malformed_env_key_names_the_variable_and_hides_the_value(bad):
    with pytest.raises(KeyConfigError) as caught:
        load_key({"VEIL_KEY": bad})
    message = str(caught.value)
    assert "VEIL_KEY" in message and "64 hex characters" in message
    assert bad.strip() not in message


def test_key_from_file(tmp_path):
    path = tmp_path / "veil.key"
    path.write_text(f"\n{TEST_HEX}\n")
    assert load_key({"VEIL_KEY_FILE": str(path)}) == bytes.fromhex(TEST_HEX)


def test_missing_key_file_names_the_variable_and_path(tmp_path):
    path = tmp_path / "absent.key"
    with pytest.raises(KeyConfigError, match="VEIL_KEY_FILE") as caught:
        load_key({"VEIL_KEY_FILE": str(path)})
    assert str(path) in str(caught.value)


def test_malformed_key_file_hides_its_content(tmp_path):
    path = tmp_path / "veil.key"
    path.write_text("secret-ish but not hex\n")
    with pytest.raises(KeyConfigError, match="VEIL_KEY_FILE") as caught:
        load_key({"VEIL_KEY_FILE": str(path)})
    assert "secret-ish" not in str(caught.value)


def test_binary_key_file_is_malformed_not_a_crash(tmp_path):
    path = tmp_path / "veil.key"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(KeyConfigError, match="VEIL_KEY_FILE"):
        load_key({"VEIL_KEY_FILE": str(path)})


def test_both_variables_set_is_an_error(tmp_path):
    path = tmp_path / "veil.key"
    path.write_text(TEST_HEX)
    with pytest.raises(KeyConfigError, match="both VEIL_KEY and VEIL_KEY_FILE"):
        load_key({"VEIL_KEY": TEST_HEX, "VEIL_KEY_FILE": str(path)})


def test_generate_key_file(tmp_path):
    path = generate_key_file(tmp_path / "nested" / "dir" / "dev.key")
    content = path.read_text()
    assert len(content) == 65 and content.endswith("\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key({"VEIL_KEY_FILE": str(path)})) == 32


def test_generate_key_file_never_overwrites(tmp_path):
    path = tmp_path / "dev.key"
    path.write_text(TEST_HEX + "\n")
    assert generate_key_file(path) == path
    assert path.read_text() == TEST_HEX + "\n"


def test_generated_keys_differ(tmp_path):
    assert generate_key_file(tmp_path / "a").read_text() != generate_key_file(tmp_path / "b").read_text()
