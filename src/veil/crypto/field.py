"""Field encryption: AES-256-GCM, one self-describing text value per field.

    veil1:<key name>:v<version>:<nonce>:<ciphertext>:<tag>      (base64url, no padding)

A random 96-bit nonce per value; the associated data binds the ciphertext to
its key id and its context (`<table>.<column>`), so a ciphertext copied into
another column, or edited, fails to decrypt instead of decrypting to garbage.

>>> from veil.keyring import DataKey
>>> key = DataKey("encrypt", 1, bytes(32))
>>> token = seal(key, "123-45-6789", "users.ssn")
>>> token.startswith("veil1:encrypt:v1:")
True
>>> unseal(lambda key_id: key, token, "users.ssn")
'123-45-6789'

On PostgreSQL, which has no AES-GCM, values are sealed in the envelope of
`veil.crypto.envelope` (`veil1cbc:`, AES-256-CBC then HMAC-SHA256); `unseal`
and `key_id_of` read both formats, so `veil reveal` opens either:

>>> from veil.crypto import envelope
>>> unseal(lambda key_id: key, envelope.seal(key, "123-45-6789", "users.ssn"), "users.ssn")
'123-45-6789'
>>> is_sealed(token), is_sealed("4111-1111-1111-1111")
(True, False)
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.crypto import envelope
from veil.errors import DecryptionError, KeyConfigError

PREFIX = "veil1"
PREFIXES = (PREFIX, envelope.PREFIX)   # AES-GCM (DuckDB), AES-CBC + HMAC (PostgreSQL)
NONCE_BYTES = 12
TAG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def associated_data(key_id: str, context: str) -> bytes:
    return f"{PREFIX}|{key_id}|{context}".encode()


class Sealer:
    """Seals many values with one key: the AES context is set up once, not per value.

    >>> from veil.keyring import DataKey
    >>> Sealer(DataKey("encrypt", 3, bytes(32))).seal("x", "t.c").startswith("veil1:encrypt:v3:")
    True
    """

    def __init__(self, key):
        self.key_id = key.key_id
        self._aead = AESGCM(key.material)
        self._prefix = ":".join([PREFIX, *key.key_id.split(":")])

    def seal(self, plaintext: str, context: str, nonce: bytes | None = None) -> str:
        nonce = nonce or os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), associated_data(self.key_id, context))
        return ":".join([self._prefix, _b64(nonce), _b64(sealed[:-TAG_BYTES]), _b64(sealed[-TAG_BYTES:])])


def seal(key, plaintext: str, context: str, nonce: bytes | None = None) -> str:
    """Encrypt `plaintext` for `context` with `key` (a veil.keyring.DataKey)."""
    return Sealer(key).seal(plaintext, context, nonce)


def is_sealed(value: str) -> bool:
    """Whether `value` claims to be a veil ciphertext (either format); whether it opens is `unseal`'s business."""
    return value.startswith(tuple(f"{prefix}:" for prefix in PREFIXES))


def key_id_of(token: str) -> str:
    """The key id a sealed value names (`encrypt:v2`); DecryptionError if it is not one."""
    if token.startswith(f"{envelope.PREFIX}:"):
        return envelope.key_id_of(token)
    parts = token.split(":")
    if len(parts) != 6 or parts[0] != PREFIX:
        raise DecryptionError(f"not a veil ciphertext (expected {PREFIX}:<key>:v<n>:<nonce>:<ciphertext>:<tag>)")
    return f"{parts[1]}:{parts[2]}"


def unseal(key_for: Callable[[str], object], token: str, context: str) -> str:
    """Decrypt a sealed value for `context`; `key_for(key_id)` returns its DataKey.

    Raises DecryptionError for an altered value, a value sealed for another
    context, an unknown key id or version.
    """
    if token.startswith(f"{envelope.PREFIX}:"):
        return envelope.unseal(key_for, token, context)
    key_id = key_id_of(token)
    _, _, _, nonce, ciphertext, tag = token.split(":")
    try:
        key = key_for(key_id)
    except KeyConfigError as exc:
        raise DecryptionError(f"cannot decrypt: {exc}") from None
    try:
        raw = (_unb64(nonce), _unb64(ciphertext) + _unb64(tag))
        if len(raw[0]) != NONCE_BYTES:
            raise ValueError("bad nonce")
        plaintext = AESGCM(key.material).decrypt(raw[0], raw[1], associated_data(key_id, context))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(
            f"cannot decrypt with {key_id} for {context}: the value was altered, or it was sealed for "
            f"another column or key ({type(exc).__name__})") from None
    return plaintext.decode("utf-8")
