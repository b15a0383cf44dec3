"""Field encryption where AES-GCM is not at hand: AES-256-CBC then HMAC-SHA256 (encrypt-then-MAC).

PostgreSQL's pgcrypto has AES-CBC and HMAC but no GCM, so the `encrypt`
strategy and the token vault seal there with this envelope instead of
`veil.crypto.field`'s AES-GCM. Its version tag is its own, so the two
formats never pass for one another:

    veil1cbc:<key name>:v<version>:<iv>:<ciphertext>:<tag>      (base64url, no padding)

- two subkeys, derived from the named key with HKDF-SHA256 under one label
  (`subkeys`): 32 bytes for AES-256, 32 for HMAC-SHA256; the data key itself
  never meets either primitive;
- a random 128-bit IV per value; PKCS#7 padding;
- tag = HMAC-SHA256(mac key, len(ad) as 4 bytes || ad || iv || ciphertext), all 32 bytes,
  where ad = `veil1cbc|<key id>|<context>`: the tag binds the ciphertext to its
  format, key id and context (`<table>.<column>`, `vault:<fingerprint>`);
- opening checks the tag (in constant time) before it decrypts anything, so an
  altered or misplaced value is refused without a padding oracle.

>>> from veil.keyring import DataKey
>>> key = DataKey("encrypt", 1, bytes(32))
>>> token = seal(key, "123-45-6789", "users.ssn")
>>> token.startswith("veil1cbc:encrypt:v1:"), len(token.split(":"))
(True, 6)
>>> unseal(lambda key_id: key, token, "users.ssn")
'123-45-6789'
>>> unseal(lambda key_id: key, token, "users.email")
Traceback (most recent call last):
...
veil.errors.DecryptionError: cannot decrypt with encrypt:v1 for users.email: the value was altered, or it was sealed for another column or key (bad tag)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import DecryptionError, KeyConfigError

PREFIX = "veil1cbc"
IV_BYTES = 16
TAG_BYTES = 32
SUBKEY_LABEL = b"veil/envelope/aes-256-cbc-hmac-sha256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def subkeys(material: bytes) -> tuple[bytes, bytes]:
    """(AES-256 key, HMAC-SHA256 key) of a data key's material.

    >>> enc, mac = subkeys(bytes(32))
    >>> len(enc), len(mac), enc != mac
    (32, 32, True)
    """
    both = HKDF(hashes.SHA256(), 64, None, SUBKEY_LABEL).derive(material)
    return both[:32], both[32:]


def associated_data(key_id: str, context: str) -> bytes:
    return f"{PREFIX}|{key_id}|{context}".encode()


def mac_input(key_id: str, context: str, iv: bytes, ciphertext: bytes) -> bytes:
    """What the tag covers: the associated data (length-prefixed), the IV and the ciphertext."""
    ad = associated_data(key_id, context)
    return len(ad).to_bytes(4, "big") + ad + iv + ciphertext


def seal(key, plaintext: str, context: str, iv: bytes | None = None) -> str:
    """Encrypt `plaintext` for `context` with `key` (a veil.keyring.DataKey); `iv` only for tests."""
    enc, mac = subkeys(key.material)
    iv = iv or os.urandom(IV_BYTES)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    tag = hmac.new(mac, mac_input(key.key_id, context, iv, ciphertext), hashlib.sha256).digest()
    return ":".join([PREFIX, *key.key_id.split(":"), _b64(iv), _b64(ciphertext), _b64(tag)])


def key_id_of(token: str) -> str:
    """The key id an envelope names (`encrypt:v2`); DecryptionError if it is not one."""
    parts = token.split(":")
    if len(parts) != 6 or parts[0] != PREFIX:
        raise DecryptionError(f"not a veil envelope (expected {PREFIX}:<key>:v<n>:<iv>:<ciphertext>:<tag>)")
    return f"{parts[1]}:{parts[2]}"


def unseal(key_for: Callable[[str], object], token: str, context: str) -> str:
    """Decrypt an envelope for `context`; `key_for(key_id)` returns its DataKey.

    Raises DecryptionError for an altered value, a value sealed for another
    context, an unknown key id or version.
    """
    key_id = key_id_of(token)
    _, _, _, iv_text, ciphertext_text, tag_text = token.split(":")
    try:
        key = key_for(key_id)
    except KeyConfigError as exc:
        raise DecryptionError(f"cannot decrypt: {exc}") from None
    refused = DecryptionError(f"cannot decrypt with {key_id} for {context}: the value was altered, or it was "
                              "sealed for another column or key (bad tag)")
    try:
        iv, ciphertext, tag = _unb64(iv_text), _unb64(ciphertext_text), _unb64(tag_text)
    except ValueError:
        raise refused from None
    enc, mac = subkeys(key.material)
    expected = hmac.new(mac, mac_input(key_id, context, iv, ciphertext), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, tag) or len(iv) != IV_BYTES or not ciphertext or len(ciphertext) % 16:
        raise refused
    decryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    try:   # the tag held: bad padding means a sealer that is not veil's, never an attacker's probe
        unpadder = padding.PKCS7(128).unpadder()
        plaintext = unpadder.update(padded) + unpadder.finalize()
        return plaintext.decode("utf-8")
    except ValueError:
        raise refused from None
