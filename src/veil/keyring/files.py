"""Reading and writing files that hold keys: owner-only, and replaced atomically.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "secret.json"
>>> write_private_file(path, b"{}", what="keyring")
>>> read_private_file(path, what="keyring"), oct(path.stat().st_mode & 0o777)
(b'{}', '0o600')
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import tempfile
from pathlib import Path

from veil.errors import KeyConfigError


def read_private_file(path: Path, *, what: str) -> bytes:
    """The bytes of `path`, refused when group or others may access it.

    The mode is checked on the open file, so it cannot change in between.
    `what` names the file in messages ("keyring", "KEK file").
    """
    try:
        with open(path, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if os.name == "posix" and mode & 0o077:
                raise KeyConfigError(
                    f"{what} {path} is accessible to group or others (mode {mode:04o}); "
                    f"make it private with `chmod 600 {shlex.quote(str(path))}`"
                )
            return handle.read()
    except FileNotFoundError:
        raise KeyConfigError(f"{what} {path} does not exist") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KeyConfigError(f"{what} {path} cannot be read: {reason}") from None


def write_private_file(path: Path, data: bytes, *, what: str, exclusive: bool = False) -> None:
    """Write `path` (mode 0600) all at once: a reader sees the old file or the new one.

    The bytes go to a temporary file in the same folder, which then replaces
    `path`; with `exclusive`, an existing `path` is kept and KeyConfigError raised.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temp_name, path)  # unlike os.replace, fails if `path` appeared meanwhile
            except FileExistsError:
                raise KeyConfigError(f"{what} {path} already exists; veil does not overwrite it") from None
        else:
            os.replace(temp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
