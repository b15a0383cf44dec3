"""The pseudonymization key: where it comes from, and making a local one.

The key is 32 bytes written as 64 hex characters, given to the build either
directly (`VEIL_KEY`) or as a file holding them (`VEIL_KEY_FILE`). Errors name
the variable and never echo the key.

>>> load_key({"VEIL_KEY": "00" * 32}) == bytes(32)
True
>>> load_key({}) is None
True
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from veil.errors import KeyConfigError

KEY_ENV = "VEIL_KEY"
KEY_FILE_ENV = "VEIL_KEY_FILE"
KEY_BYTES = 32

_KEY_HEX = re.compile(r"[0-9a-fA-F]{%d}" % (2 * KEY_BYTES))


def load_key(env: Mapping[str, str] = os.environ) -> bytes | None:
    """The key from VEIL_KEY or VEIL_KEY_FILE; None when neither is set.

    An empty variable counts as unset. Both set, a malformed value or an
    unreadable file raise KeyConfigError.

    >>> load_key({"VEIL_KEY": "not hex"})
    Traceback (most recent call last):
    ...
    veil.errors.KeyConfigError: VEIL_KEY must be 64 hex characters (32 bytes); it has 7 characters
    """
    direct = env.get(KEY_ENV) or None
    file_name = env.get(KEY_FILE_ENV) or None
    if direct and file_name:
        raise KeyConfigError(f"both {KEY_ENV} and {KEY_FILE_ENV} are set; set only one of them")
    if direct:
        return _parse_key(direct, KEY_ENV)
    if file_name:
        return _parse_key(_read_key_file(Path(file_name)), f"{KEY_FILE_ENV} ({file_name})")
    return None


def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random key to `path` (mode 0600); keep an existing file as it is.

    >>> import tempfile
    >>> key_path = generate_key_file(Path(tempfile.mkdtemp()) / "dev" / "veil.key")
    >>> len(load_key({"VEIL_KEY_FILE": str(key_path)}))
    32
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path


def _read_key_file(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KeyConfigError(f"{KEY_FILE_ENV} points to {path}, which cannot be read: {reason}") from None


def _parse_key(text: str, source: str) -> bytes:
    value = text.strip()
    if not _KEY_HEX.fullmatch(value):
        raise KeyConfigError(
            f"{source} must be 64 hex characters ({KEY_BYTES} bytes); it has {len(value)} characters"
            + ("" if len(value) != 2 * KEY_BYTES else " but not all are hex digits")
        )
    return bytes.fromhex(value)
