"""Append-only audit records, each carrying the hash of the one before (a hash chain).

A record: what happened (`kind`: erasure step, request completion, access,
snapshot...), for which request and system, how (`method`), how many rows,
with what status, when, by which tool version, plus free `detail` (JSON).
`hash` = SHA-256 over the record's canonical JSON and the previous hash, so
changing, removing or reordering any record breaks every hash after it;
`verify` names the first broken one. The file is `VEIL_AUDIT_DB`, else
`.veil/audit.duckdb`, and is kept 0600.

>>> import tempfile, pathlib
>>> trail = AuditTrail(pathlib.Path(tempfile.mkdtemp()) / "audit.duckdb")
>>> _ = trail.append("erasure.step", request_id="r1", system="raw.users", method="delete", rows=1, status="completed")
>>> trail.verify()
1
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from veil import __version__
from veil.errors import VeilError

class AuditChainError(VeilError):
    """The audit trail was changed: a record removed, edited or reordered (exit 1)."""

    exit_code = 1


def actor(env: Mapping[str, str] = os.environ) -> str:
    """Who acts: `VEIL_ACTOR` (set by CI or a wrapper), else the OS user."""
    if env.get("VEIL_ACTOR"):
        return env["VEIL_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def digest(value: str) -> str:
    """SHA-256 of a value, for records that must not hold it in clear."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


AUDIT_DB_ENV = "VEIL_AUDIT_DB"
DEFAULT_AUDIT_DB = Path(".veil/audit.duckdb")
GENESIS = "0" * 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq BIGINT PRIMARY KEY,
    recorded_at VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    request_id VARCHAR,
    system VARCHAR,
    method VARCHAR,
    rows BIGINT,
    status VARCHAR,
    detail VARCHAR NOT NULL,
    tool_version VARCHAR NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
)"""
FIELDS = ("seq", "recorded_at", "kind", "request_id", "system", "method", "rows", "status", "detail", "tool_version",
          "prev_hash", "hash")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    recorded_at: str
    kind: str
    request_id: str | None
    system: str | None
    method: str | None
    rows: int | None
    status: str | None
    detail: str
    tool_version: str
    prev_hash: str
    hash: str

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.detail)

    def expected_hash(self) -> str:
        body = {k: v for k, v in asdict(self).items() if k != "hash"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def audit_db_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(AUDIT_DB_ENV) or DEFAULT_AUDIT_DB)


class AuditTrail:
    """One audit file. Appends are serialised and committed one by one."""

    def __init__(self, path: Path, root: Path | None = None):
        self.path = Path(path)
        # a trail in <project>/.veil/ belongs to that project: files inside it are recorded relative to it,
        # so a copied or restored project refers to its own files, never to the original's
        self.root = Path(root).resolve() if root else (
            self.path.resolve().parent.parent if self.path.resolve().parent.name == ".veil" else None)
        self._lock = threading.Lock()

    def relative(self, path: Path | str) -> str:
        """How a record names a file: relative to the trail's project when inside it, else absolute.

        >>> AuditTrail(Path("/p/.veil/audit.duckdb")).relative("/p/published/a.duckdb")
        'published/a.duckdb'
        >>> AuditTrail(Path("/p/.veil/audit.duckdb")).relative("/data/a.duckdb")
        '/data/a.duckdb'
        """
        absolute = Path(path).absolute()
        if self.root is not None:
            try:
                return str(absolute.relative_to(self.root))
            except ValueError:
                pass
        return str(absolute)

    def resolve(self, system: str) -> Path:
        """The file a record names (the inverse of `relative`)."""
        path = Path(system)
        return path if path.is_absolute() or self.root is None else self.root / path

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        con.execute(_SCHEMA)
        os.chmod(self.path, 0o600)
        return con

    def append(self, kind: str, *, request_id: str | None = None, system: str | None = None,
               method: str | None = None, rows: int | None = None, status: str | None = None,
               detail: Mapping[str, Any] | None = None) -> AuditRecord:
        """Add one record at the end of the chain (committed before returning)."""
        return self.append_many([dict(kind=kind, request_id=request_id, system=system, method=method, rows=rows,
                                      status=status, detail=detail)])[0]

    def append_many(self, entries: list[Mapping[str, Any]]) -> list[AuditRecord]:
        """Add records in order, all in one transaction (all or none), chained one to the next."""
        if not entries:
            return []
        with self._lock, self._connect() as con:
            found = con.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchall()
            last = found[0] if found else None
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            made = []
            for entry in entries:
                request_id = entry.get("request_id")
                draft = AuditRecord(seq, now, entry["kind"], None if request_id is None else str(request_id),
                                    entry.get("system"), entry.get("method"), entry.get("rows"), entry.get("status"),
                                    json.dumps(dict(entry.get("detail") or {}), sort_keys=True, default=str),
                                    __version__, prev, "")
                record = AuditRecord(**{**asdict(draft), "hash": draft.expected_hash()})
                made.append(record)
                seq, prev = seq + 1, record.hash
            batch = pa.table({f: [getattr(r, f) for r in made] for f in FIELDS})
            con.register("veil_audit_batch", batch)
            con.execute("BEGIN TRANSACTION")
            con.execute(f"INSERT INTO records SELECT {', '.join(FIELDS)} FROM veil_audit_batch")
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        return made

    def records(self, **where: Any) -> list[AuditRecord]:
        """Records in chain order, optionally filtered on equal fields (e.g. kind=..., request_id=...)."""
        clauses = " AND ".join(f"{k} = ?" for k in where) or "TRUE"
        if not self.path.is_file():
            return []   # reading never creates a trail (a dry run writes nothing)
        with self._lock, self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(FIELDS)} FROM records WHERE {clauses} ORDER BY seq",
                               [str(v) if k == "request_id" else v for k, v in where.items()]).fetchall()
        return [AuditRecord(*row) for row in rows]

    def verify(self) -> int:
        """The number of records when the chain is intact; AuditChainError naming the first broken one."""
        if not self.path.is_file():
            raise AuditChainError(f"{self.path}: no audit trail here (nothing was recorded, or the file was removed); "
                                  "check --project-dir and VEIL_AUDIT_DB")
        previous = GENESIS
        records = self.records()
        for position, record in enumerate(records, start=1):
            if record.seq != position:
                raise AuditChainError(f"{self.path}: record {position} is missing or out of order "
                                      f"(found seq {record.seq})")
            if record.prev_hash != previous or record.hash != record.expected_hash():
                raise AuditChainError(f"{self.path}: record {record.seq} ({record.kind}) was changed, or a record "
                                      "before it was removed or reordered")
            previous = record.hash
        return len(records)


def audit_trail(env: Mapping[str, str] = os.environ) -> AuditTrail:
    return AuditTrail(audit_db_path(env))
