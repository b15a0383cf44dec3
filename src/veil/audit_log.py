"""An append-only, hash-chained JSON-lines log of sensitive actions (reveals).

Each record carries the SHA-256 of the previous line, so a removed, edited
or reordered record breaks the chain (`verify_log`). The path is
`VEIL_AUDIT_LOG`, else `.veil/audit/reveal.jsonl`; the file is 0600.
No plaintext value is ever written: values appear as SHA-256 digests.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
>>> _ = append_record(log, {"action": "reveal", "outcome": "refused"})
>>> _ = append_record(log, {"action": "reveal", "outcome": "revealed"})
>>> verify_log(log)
2
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from veil import __version__
from veil.errors import VeilError

AUDIT_ENV = "VEIL_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(".veil/audit/reveal.jsonl")
GENESIS = "0" * 64


class AuditChainError(VeilError):
    """The audit log was changed: a record removed, edited or reordered."""

    exit_code = 1


def audit_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(AUDIT_ENV) or DEFAULT_AUDIT_LOG)


def actor(env: Mapping[str, str] = os.environ) -> str:
    """Who acts: `VEIL_ACTOR` (set by CI or a wrapper), else the OS user."""
    if env.get("VEIL_ACTOR"):
        return env["VEIL_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _last_line(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        lines = handle.read().splitlines()
    return lines[-1].decode("utf-8") if lines else None


def append_record(path: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append one record (with time, tool version and the previous line's hash); fsync'd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    last = _last_line(path)
    full = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "tool_version": __version__,
            **record, "prev": digest(last) if last else GENESIS}
    line = json.dumps(full, sort_keys=True, ensure_ascii=False)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return full


def verify_log(path: Path) -> int:
    """The number of records when the chain is intact; AuditChainError naming the first broken line."""
    previous = None
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            prev = json.loads(line)["prev"]
        except (ValueError, KeyError, TypeError):
            raise AuditChainError(f"{path}:{number}: not an audit record") from None
        if prev != (digest(previous) if previous is not None else GENESIS):
            raise AuditChainError(f"{path}:{number}: the chain is broken here (a record before it was "
                                  "changed, removed or reordered)")
        previous, count = line, count + 1
    return count
