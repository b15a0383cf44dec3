"""Key-encryption: the KMS that wraps and unwraps the keyring's data keys.

A keyring file stores every data key wrapped by a key-encryption key (KEK)
that lives elsewhere: in a cloud KMS, or, for development, in a local file.
`PROVIDERS` maps the `kek.provider` of a keyring file to a factory; a cloud
client registers itself there.

>>> kms = LocalKms(bytes(32), key_file="master.key")
>>> plaintext, wrapped = kms.generate_data_key("veil-keyring:encrypt:v1")
>>> kms.decrypt(wrapped, "veil-keyring:encrypt:v1") == plaintext
True
>>> kms.decrypt(wrapped, "veil-keyring:encrypt:v2")
Traceback (most recent call last):
...
veil.errors.KeyConfigError: the KEK does not open it (a wrong KEK, or the wrapped key was altered)
>>> kms
LocalKms(key_file='master.key')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.errors import KeyConfigError
from veil.keyring.files import read_private_file
from veil.keys import KEY_BYTES, _parse_key

NONCE_BYTES = 12  # AES-GCM's 96-bit nonce
TAG_BYTES = 16


@runtime_checkable
class KmsClient(Protocol):
    """What a key management service offers the keyring."""

    def generate_data_key(self, context: str) -> tuple[bytes, bytes]:
        """A fresh 32-byte data key: (plaintext, wrapped blob bound to `context`)."""
        ...

    def decrypt(self, wrapped: bytes, context: str) -> bytes:
        """The plaintext of `wrapped`; KeyConfigError (saying why, never the key) if it cannot."""
        ...

    def describe(self) -> dict[str, Any]:
        """The JSON-able `kek` section of a keyring file that rebuilds this client."""
        ...


class LocalKms:
    """The development KMS: a 32-byte KEK from a local file, AES-256-GCM wrapping.

    A wrapped blob is `nonce || ciphertext+tag` with a random 96-bit nonce and
    the context (e.g. "veil-keyring:encrypt:v2") as associated data, so a blob
    copied to another key or version does not unwrap.
    """

    def __init__(self, kek: bytes, *, key_file: str):
        if len(kek) != KEY_BYTES:
            raise KeyConfigError(f"the KEK in {key_file} must be {KEY_BYTES} bytes; it has {len(kek)}")
        self._aead = AESGCM(kek)
        self.key_file = key_file

    @classmethod
    def from_file(cls, path: Path, *, key_file: str | None = None) -> LocalKms:
        """The KEK in `path` (64 hex characters, mode 0600); `key_file` is how describe() names it."""
        text = read_private_file(path, what="KEK file").decode("ascii", errors="replace")
        return cls(_parse_key(text, f"KEK file {path}"), key_file=key_file or str(path))

    def generate_data_key(self, context: str) -> tuple[bytes, bytes]:
        plaintext = os.urandom(KEY_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        return plaintext, nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, wrapped: bytes, context: str) -> bytes:
        if len(wrapped) < NONCE_BYTES + TAG_BYTES:
            raise KeyConfigError(f"the wrapped key is {len(wrapped)} bytes, too short to be one")
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise KeyConfigError("the KEK does not open it (a wrong KEK, or the wrapped key was altered)") from None

    def describe(self) -> dict[str, Any]:
        return {"provider": "local", "key_file": self.key_file}

    def __repr__(self) -> str:
        return f"LocalKms(key_file={self.key_file!r})"


def _local_kms(config: dict[str, Any], folder: Path) -> LocalKms:
    unknown = sorted(set(config) - {"provider", "key_file"})
    if unknown:
        raise KeyConfigError(f"kek.{unknown[0]} is not a setting of the 'local' provider (it takes key_file)")
    key_file = config.get("key_file")
    if not isinstance(key_file, str) or not key_file:
        raise KeyConfigError("kek.key_file must name the file holding the local KEK")
    return LocalKms.from_file(folder / key_file, key_file=key_file)


PROVIDERS: dict[str, Callable[[dict[str, Any], Path], KmsClient]] = {"local": _local_kms}
"""`kek.provider` -> factory(kek section, folder of the keyring file) -> client."""


def kms_from_config(config: dict[str, Any], folder: Path) -> KmsClient:
    """The client a keyring's `kek` section describes; paths in it are relative to `folder`.

    >>> kms_from_config({"provider": "vault9"}, Path("."))
    Traceback (most recent call last):
    ...
    veil.errors.KeyConfigError: kek.provider 'vault9' is not known (known: local)
    """
    provider = config.get("provider")
    factory = PROVIDERS.get(provider) if isinstance(provider, str) else None
    if factory is None:
        raise KeyConfigError(f"kek.provider {provider!r} is not known (known: {', '.join(sorted(PROVIDERS))})")
    return factory(config, folder)
