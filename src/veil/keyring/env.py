"""Which keyring a build uses: VEIL_KEYRING, else VEIL_KEY / VEIL_KEY_FILE.

The project's default, `<project>/.veil/keyring.json`, is filled into
VEIL_KEYRING by `veil.project.state_env`: never a path of the current directory.

A single VEIL_KEY becomes a one-version keyring: "hmac" v1 is the key itself,
so pseudonyms made before keyrings existed do not change, and the other keys
are derived from it with HKDF-SHA256 (info `veil/<name>`).

>>> ring = load_keyring({"VEIL_KEY": "00" * 32})
>>> ring.source, ring.primary("hmac").material == bytes(32), ring.primary("encrypt").key_id
('VEIL_KEY', True, 'encrypt:v1')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import KeyConfigError
from veil.keyring.ring import KEY_NAMES, Keyring
from veil.keyring.store import load_keyring_file
from veil.keys import KEY_BYTES, KEY_ENV, KEY_FILE_ENV, load_key

KEYRING_ENV = "VEIL_KEYRING"
DEFAULT_KEYRING = Path(".veil/keyring.json")   # relative to the project, see veil.project


def load_keyring(env: Mapping[str, str] = os.environ) -> Keyring | None:
    """The keyring the environment selects, or None when it selects none.

    Empty variables count as unset. VEIL_KEYRING together with VEIL_KEY or
    VEIL_KEY_FILE is ambiguous and refused; so is a VEIL_KEYRING path that
    does not exist. Relative paths are the caller's to resolve (`veil.project.state_env`).

    >>> load_keyring({"VEIL_KEYRING": "/nonexistent/keyring.json"})
    Traceback (most recent call last):
    ...
    veil.errors.KeyConfigError: VEIL_KEYRING points to /nonexistent/keyring.json, which does not exist
    """
    ring_path = env.get(KEYRING_ENV) or None
    single = [name for name in (KEY_ENV, KEY_FILE_ENV) if env.get(name)]
    if ring_path and single:
        raise KeyConfigError(f"both {KEYRING_ENV} and {single[0]} are set; set only one of them")
    if ring_path:
        path = Path(ring_path)
        if not path.exists():
            raise KeyConfigError(f"{KEYRING_ENV} points to {path}, which does not exist")
        return load_keyring_file(path)
    key = load_key(env)
    if key is not None:
        return keyring_from_key(key)
    return None


def keyring_from_key(key: bytes, *, source: str = KEY_ENV) -> Keyring:
    """A keyring of v1 keys from one 32-byte key: "hmac" is `key`, the rest derived from it.

    >>> ring = keyring_from_key(bytes(32))
    >>> len({ring.primary(name).material for name in KEY_NAMES}) == len(KEY_NAMES)
    True
    """
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"{source} must be {KEY_BYTES} bytes; it has {len(key)}")
    materials = {name: {1: key if name == "hmac" else _derive(key, name)} for name in KEY_NAMES}
    return Keyring(source, {name: 1 for name in KEY_NAMES}, materials)


def _derive(key: bytes, name: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=b"veil/" + name.encode()).derive(key)
