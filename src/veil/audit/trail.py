"""Append-only audit records, chained by a MAC under the keyring's audit key.

A record: what happened (`kind`: erasure step, request completion, access,
snapshot...), for which request and system, how (`method`), how many rows,
with what status, when, by which tool version, who (`actor`: `VEIL_ACTOR` as
claimed, beside the OS user and host, so a claimed actor is never the only
word), in which trail file (`trail`), plus free `detail` (JSON).

The chain: `hash` of record n is

    HMAC-SHA256(K, prev_hash || canonical JSON of record n)

where `prev_hash` is record n-1's `hash` as hex text (64 zeros for record 1), the
canonical JSON holds every other field (its `seq` and `key_id` included) and
`K` = HKDF-SHA256(the keyring's `audit` key version `key_id`, info
"veil/audit-chain/v1"). Changing, removing, reordering or re-chaining any
record needs K; `verify` recomputes every MAC and names the first record
that does not match. It needs the keyring: without it nothing can be said
(KeyConfigError, exit 2), never "intact".

Truncating the tail leaves a valid chain; an anchor catches it. `anchor()`
signs the head (sequence, head MAC, time) under another key,
HKDF(audit key, info "veil/audit-anchor/v1"); kept off the machine, it makes
`verify(anchor)` fail when the trail is shorter than the anchor, its record
#sequence differs, the anchor was forged, or the trail is gone.

Unkeyed records (written by veil before the audit key existed, or without a
keyring) carry a SHA-256 chain only (`key_id` NULL): anyone can rewrite
them. They may only come first; a MACed record after them commits to their
head, and so seals them (`seal()` appends one). A trail that ends in unkeyed
records, or has one after a MACed record, fails `verify`.

The file is `VEIL_AUDIT_DB`, else `.veil/audit.duckdb`, and is kept 0600.

>>> import tempfile, pathlib
>>> from veil.keyring import keyring_from_key
>>> trail = AuditTrail(pathlib.Path(tempfile.mkdtemp()) / "audit.duckdb", keyring=keyring_from_key(bytes(32)))
>>> trail.append("erasure.step", request_id="r1", system="raw.users", method="delete", rows=1,
...              status="completed").key_id
'audit:v1'
>>> trail.verify()
1
>>> anchor = trail.anchor()
>>> _ = trail.append("publish", system="published/a.duckdb", status="started")
>>> trail.verify(anchor)
2
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil import __version__
from veil.errors import KeyConfigError, UsageError, VeilError

if TYPE_CHECKING:
    from veil.keyring import DataKey, Keyring


class AuditChainError(VeilError):
    """The audit trail was changed, truncated or removed, or cannot vouch for its records (exit 1)."""

    exit_code = 1


def os_user() -> str:
    """The OS account running veil (never taken from VEIL_ACTOR)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def actor(env: Mapping[str, str] = os.environ) -> str:
    """Who acts, as claimed: `VEIL_ACTOR` (set by CI or a wrapper), else the OS user.

    A claim only: records keep `os_user` and `host` beside it.
    """
    return env.get("VEIL_ACTOR") or os_user()


def digest(value: str) -> str:
    """SHA-256 of a value, for records that must not hold it in clear."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


AUDIT_DB_ENV = "VEIL_AUDIT_DB"
DEFAULT_AUDIT_DB = Path(".veil/audit.duckdb")
AUDIT_KEY = "audit"                       # the keyring key the chain and anchors derive from
CHAIN_INFO = b"veil/audit-chain/v1"       # HKDF info: the record MAC key
ANCHOR_INFO = b"veil/audit-anchor/v1"     # HKDF info: the anchor MAC key
VALUE_INFO = b"veil/audit-value/v1"       # HKDF info: digests of values named in records
ANCHOR_FORMAT = "veil-audit-anchor/1"
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
    hash VARCHAR NOT NULL,
    actor VARCHAR,
    os_user VARCHAR,
    host VARCHAR,
    trail VARCHAR,
    key_id VARCHAR
)"""
LEGACY_FIELDS = ("seq", "recorded_at", "kind", "request_id", "system", "method", "rows", "status", "detail",
                 "tool_version", "prev_hash", "hash")
"""The fields of records written before the trail was keyed (their SHA-256 covers only these)."""
ADDED_FIELDS = ("actor", "os_user", "host", "trail", "key_id")
"""Columns added with the keyed chain; an older trail file gets them (NULL) when next opened."""
FIELDS = LEGACY_FIELDS + ADDED_FIELDS


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
    hash: str                    # the record's MAC (keyed), else its SHA-256 (unkeyed)
    actor: str | None = None     # claimed: VEIL_ACTOR, else the OS user
    os_user: str | None = None   # the OS account that wrote the record
    host: str | None = None
    trail: str | None = None     # the trail file as the writer resolved it (project-relative when inside)
    key_id: str | None = None    # "audit:vN" the MAC is under; None: an unkeyed record

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.detail)

    @property
    def keyed(self) -> bool:
        return self.key_id is not None

    def canonical(self) -> bytes:
        """What the MAC covers besides the previous MAC: every field but `hash`, as sorted compact JSON."""
        body = {k: v for k, v in asdict(self).items() if k != "hash"}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def expected_mac(self, chain_key: bytes) -> str:
        return hmac.new(chain_key, self.prev_hash.encode("utf-8") + self.canonical(), hashlib.sha256).hexdigest()

    def expected_hash(self) -> str:
        """The SHA-256 of an unkeyed record: its legacy fields, plus any newer field it has."""
        body = {k: v for k, v in asdict(self).items()
                if k != "hash" and (k in LEGACY_FIELDS or v is not None)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """A signed head of a trail: its record #`sequence` had MAC `head_mac` at `time`.

    As JSON (`to_json`): {"format", "trail", "sequence", "head_mac", "key_id", "time", "anchor_mac"};
    `anchor_mac` = HMAC-SHA256(HKDF(audit key `key_id`, "veil/audit-anchor/v1"), canonical JSON of the rest).
    """

    trail: str
    sequence: int
    head_mac: str
    key_id: str
    time: str
    anchor_mac: str = ""
    format: str = ANCHOR_FORMAT

    def signed_bytes(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "anchor_mac"}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "anchor") -> Anchor:
        """An anchor from its JSON; UsageError (exit 2) when it is not one."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UsageError(f"{source} is not a veil audit anchor: not JSON ({error})") from None
        names = {f.name: f.type for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != set(names):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise UsageError(f"{source} is not a veil audit anchor: expected the fields {', '.join(sorted(names))}; "
                             f"it has {got}")
        if data["format"] != ANCHOR_FORMAT:
            raise UsageError(f"{source}: unknown anchor format {data['format']!r} (this veil reads {ANCHOR_FORMAT})")
        wrong = [k for k, v in data.items()
                 if not (isinstance(v, int) and not isinstance(v, bool) if k == "sequence" else isinstance(v, str))]
        if "sequence" not in wrong and data["sequence"] < 1:
            wrong.append("sequence")
        if wrong:
            raise UsageError(f"{source} is not a veil audit anchor: malformed {', '.join(sorted(wrong))}")
        return cls(**data)


@dataclass(frozen=True)
class Verification:
    """What `AuditTrail.verification` found in an intact trail."""

    path: Path
    records: int
    unkeyed: int = 0                  # records 1..unkeyed carry no MAC of their own; record unkeyed+1 seals them
    sealed_at: str | None = None      # when that sealing record was written
    key_ids: tuple[str, ...] = ()     # the audit key versions the MACs are under
    anchor: Anchor | None = None      # the anchor the trail was checked against


def audit_db_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(AUDIT_DB_ENV) or DEFAULT_AUDIT_DB)


def _derive(key: DataKey, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(key.material)


def _from_environment(root: Path | None) -> Keyring | None:
    """The keyring os.environ selects, its paths resolved like the project's (when the trail is in one)."""
    from veil.keyring import load_keyring
    from veil.project import state_env

    return load_keyring(state_env(root, os.environ) if root is not None else os.environ)


KeyringSource = Callable[[], "Keyring | None"]
FROM_ENVIRONMENT = "the keyring the process environment selects"


class AuditTrail:
    """One audit file. Appends are serialised and committed one by one.

    `keyring`: the keyring (or a function returning it, called on first need)
    whose `audit` key MACs the records; default: the one the process
    environment selects. None: no keys, records are written unkeyed (and the
    trail cannot verify). `env` supplies VEIL_ACTOR; `project` is the project
    directory the trail's own path is named relative to (in records and anchors).
    """

    def __init__(self, path: Path, root: Path | None = None, *,
                 keyring: Keyring | KeyringSource | None | str = FROM_ENVIRONMENT,
                 env: Mapping[str, str] | None = None, project: Path | None = None):
        self.path = Path(path)
        # a trail in <project>/.veil/ belongs to that project: files inside it are recorded relative to it,
        # so a copied or restored project refers to its own files, never to the original's
        self.root = Path(root).resolve() if root else (
            self.path.resolve().parent.parent if self.path.resolve().parent.name == ".veil" else None)
        self.project = Path(project).resolve() if project else self.root
        self._keyring_source = keyring
        self._keyring_loaded = False
        self._keyring: Keyring | None = None
        self._env = os.environ if env is None else env
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

    @property
    def name(self) -> str:
        """The trail file as records and anchors name it: relative to its project when inside, else absolute.

        >>> AuditTrail(Path("/p/.veil/audit.duckdb")).name, AuditTrail(Path("/t/a.duckdb"), project=Path("/p")).name
        ('.veil/audit.duckdb', '/t/a.duckdb')
        """
        absolute = self.path.resolve()
        if self.project is not None and absolute.is_relative_to(self.project):
            return absolute.relative_to(self.project).as_posix()
        return str(absolute)

    # -- keys

    def keyring(self) -> Keyring | None:
        """The keyring whose `audit` key MACs this trail (loaded once), or None."""
        if not self._keyring_loaded:
            source = self._keyring_source
            if source is FROM_ENVIRONMENT:
                self._keyring = _from_environment(self.root)
            elif callable(source):
                self._keyring = source()
            else:
                self._keyring = source   # type: ignore[assignment]
            self._keyring_loaded = True
        return self._keyring

    def value_digest(self, value: str) -> str:
        """How a record names a value it must not hold (a token a user typed, maybe a real card):
        HMAC-SHA256 under a key derived from the audit key (`veil/audit-value/v1`), so the digest
        cannot be reversed by trying every card number; SHA-256 (`digest`) only without keys."""
        key = self._writing_key()
        if key is None:
            return digest(value)
        return hmac.new(_derive(key, VALUE_INFO), value.encode("utf-8"), hashlib.sha256).hexdigest()

    def _writing_key(self) -> DataKey | None:
        """The audit key new records are MACed with; None without a keyring (records then go unkeyed)."""
        ring = self.keyring()
        if ring is None:
            return None
        if AUDIT_KEY not in ring.names():
            raise KeyConfigError(f"{ring.source} has no {AUDIT_KEY!r} key, which MACs the audit trail "
                                 f"{self.path}; add it with `veil keys rotate {AUDIT_KEY}`")
        return ring.primary(AUDIT_KEY)

    def _reading_ring(self, what: str) -> Keyring:
        ring = self.keyring()
        if ring is None:
            raise KeyConfigError(f"cannot {what} the audit trail {self.path} without the keyring: its records are "
                                 "MACed with the keyring's audit key; set VEIL_KEYRING (or VEIL_KEY) as when it "
                                 "was written")
        return ring

    # -- writing

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        con.execute(_SCHEMA)
        present = {row[1] for row in con.execute("PRAGMA table_info('records')").fetchall()}
        for column in ADDED_FIELDS:
            if column not in present:       # a trail written before the keyed chain
                con.execute(f"ALTER TABLE records ADD COLUMN {column} VARCHAR")
        os.chmod(self.path, 0o600)
        return con

    def append(self, kind: str, *, request_id: str | None = None, system: str | None = None,
               method: str | None = None, rows: int | None = None, status: str | None = None,
               detail: Mapping[str, Any] | None = None) -> AuditRecord:
        """Add one record at the end of the chain (committed before returning)."""
        return self.append_many([dict(kind=kind, request_id=request_id, system=system, method=method, rows=rows,
                                      status=status, detail=detail)])[0]

    def append_many(self, entries: list[Mapping[str, Any]]) -> list[AuditRecord]:
        """Add records in order, all in one transaction (all or none), chained one to the next.

        Without a keyring the records go unkeyed, except onto a trail that
        already has MACed records: that is refused (KeyConfigError), as an
        unkeyed record there would break the chain.
        """
        if not entries:
            return []
        key = self._writing_key()              # before touching the file: a key error writes nothing
        chain_key = _derive(key, CHAIN_INFO) if key is not None else None
        with self._lock, self._connect() as con:
            found = con.execute("SELECT seq, hash, key_id FROM records ORDER BY seq DESC LIMIT 1").fetchall()
            last = found[0] if found else None
            if key is None and last is not None and last[2] is not None:
                raise KeyConfigError(f"the audit trail {self.path} is MACed with the keyring's audit key "
                                     f"({last[2]}), and no keyring is set: set VEIL_KEYRING (or VEIL_KEY) to "
                                     "write to it")
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            who = dict(actor=actor(self._env), os_user=os_user(), host=socket.gethostname(), trail=self.name,
                       key_id=key.key_id if key is not None else None)
            made = []
            for entry in entries:
                request_id = entry.get("request_id")
                draft = AuditRecord(seq, now, entry["kind"], None if request_id is None else str(request_id),
                                    entry.get("system"), entry.get("method"), entry.get("rows"), entry.get("status"),
                                    json.dumps(dict(entry.get("detail") or {}), sort_keys=True, default=str),
                                    __version__, prev, "", **who)
                sealed = draft.expected_mac(chain_key) if chain_key is not None else draft.expected_hash()
                record = AuditRecord(**{**asdict(draft), "hash": sealed})
                made.append(record)
                seq, prev = seq + 1, record.hash
            batch = pa.table({f: pa.array([getattr(r, f) for r in made],
                                          type=pa.int64() if f in ("seq", "rows") else pa.string()) for f in FIELDS})
            con.register("veil_audit_batch", batch)
            con.execute("BEGIN TRANSACTION")
            con.execute(f"INSERT INTO records ({', '.join(FIELDS)}) SELECT {', '.join(FIELDS)} FROM veil_audit_batch")
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        return made

    def seal(self) -> AuditRecord | None:
        """Append a MACed `audit.seal` record committing to the unkeyed records at the end of the trail.

        None when there are none (nothing is written). The unkeyed chain must
        be intact; once sealed, changing those records breaks the seal's MAC.
        """
        records = self._walk(self._reading_ring("seal"))
        tail = [r for r in records if not r.keyed]
        if not records or records[-1].keyed:
            return None
        return self.append("audit.seal", rows=len(tail), status="sealed",
                           detail={"unkeyed_from": tail[0].seq, "unkeyed_to": tail[-1].seq,
                                   "unkeyed_head": tail[-1].hash})

    # -- reading

    def records(self, **where: Any) -> list[AuditRecord]:
        """Records in chain order, optionally filtered on equal fields (e.g. kind=..., request_id=...)."""
        clauses = " AND ".join(f"{k} = ?" for k in where) or "TRUE"
        if not self.path.is_file():
            return []   # reading never creates a trail (a dry run writes nothing)
        with self._lock, self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(FIELDS)} FROM records WHERE {clauses} ORDER BY seq",
                               [str(v) if k == "request_id" else v for k, v in where.items()]).fetchall()
        return [AuditRecord(**dict(zip(FIELDS, row))) for row in rows]

    # -- verifying

    def _walk(self, ring: Keyring) -> list[AuditRecord]:
        """Every record, each checked against the one before; AuditChainError at the first that does not fit."""
        if not self.path.is_file():
            raise AuditChainError(f"no audit trail at {self.path} (nothing was recorded, or the file was "
                                  "removed); check --project-dir and VEIL_AUDIT_DB")
        previous, keyed_seen = GENESIS, False
        chain_keys: dict[str, bytes] = {}
        records = self.records()
        for position, record in enumerate(records, start=1):
            where = f"{self.path}: record {record.seq} ({record.kind})"
            if record.seq != position:
                raise AuditChainError(f"{self.path}: record {position} is missing or out of order "
                                      f"(found seq {record.seq})")
            if record.prev_hash != previous:
                raise AuditChainError(f"{where} does not follow the record before it: a record before it was "
                                      "removed, reordered or changed")
            if not record.keyed:
                if keyed_seen:
                    raise AuditChainError(f"{where} carries no MAC but follows MACed records: it was added or "
                                          "rewritten without the audit key")
                if record.hash != record.expected_hash():
                    raise AuditChainError(f"{where} was changed, or a record before it was removed or reordered")
            else:
                if record.key_id not in chain_keys:
                    chain_keys[record.key_id] = _derive(_audit_key(ring, record.key_id, where), CHAIN_INFO)
                if not hmac.compare_digest(record.hash, record.expected_mac(chain_keys[record.key_id])):
                    raise AuditChainError(f"{where} was changed, or a record before it was removed, reordered "
                                          "or re-chained (its MAC does not match)")
                keyed_seen = True
            previous = record.hash
        return records

    def verification(self, anchor: Anchor | None = None) -> Verification:
        """What an intact trail holds; AuditChainError (exit 1) naming what is wrong, KeyConfigError (exit 2)
        when it cannot be verified (no keyring, or not the one that wrote it).

        Fails on: a missing file or no records; a record changed, removed,
        reordered or re-chained; unkeyed records at the end (nobody vouches
        for them) or after MACed ones; with `anchor`, a forged anchor, one of
        another trail, a trail shorter than the anchor's sequence or whose
        record #sequence is not the anchored one.
        """
        if not self.path.is_file():
            said = "" if anchor is None else (
                f", but an anchor says it held {anchor.sequence} records at {anchor.time}: the trail was removed"
                if anchor.trail == self.name else f"; the anchor is of the audit trail {anchor.trail}")
            raise AuditChainError(f"no audit trail at {self.path}{said}; check --project-dir and VEIL_AUDIT_DB")
        ring = self._reading_ring("verify")
        if anchor is not None:
            self._check_anchor_mac(ring, anchor)
        records = self._walk(ring)
        if not records:
            raise AuditChainError(f"{self.path}: the audit trail holds no records")
        unkeyed = [r for r in records if not r.keyed]
        if not records[-1].keyed:
            raise AuditChainError(
                f"{self.path}: records {unkeyed[0].seq}-{unkeyed[-1].seq} carry no MAC (written without the audit "
                "key: without a keyring, or by an older veil), so anyone could have rewritten them; with the "
                "keyring set, `veil audit seal` appends a MACed record that seals them as they are now")
        if anchor is not None:
            self._check_anchor(anchor, records)
        return Verification(self.path, len(records), len(unkeyed),
                            records[len(unkeyed)].recorded_at if unkeyed else None,
                            tuple(sorted({r.key_id for r in records if r.key_id})), anchor)

    def verify(self, anchor: Anchor | None = None) -> int:
        """The number of records when the chain is intact (see `verification`)."""
        return self.verification(anchor).records

    # -- anchors

    def anchor(self, now: datetime | None = None) -> Anchor:
        """A signed head of this trail, which must verify: to keep off the machine (see `verification`)."""
        checked = self.verification()
        head = self.records(seq=checked.records)[0]
        key = self._reading_ring("anchor").primary(AUDIT_KEY)
        when = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        draft = Anchor(self.name, head.seq, head.hash, key.key_id, when)
        return Anchor(**{**asdict(draft), "anchor_mac": _anchor_mac(key, draft)})

    def _check_anchor_mac(self, ring: Keyring, anchor: Anchor) -> None:
        key = _audit_key(ring, anchor.key_id, "the anchor")
        if not hmac.compare_digest(anchor.anchor_mac, _anchor_mac(key, anchor)):
            raise AuditChainError(f"the anchor of {anchor.trail} (record {anchor.sequence}, {anchor.time}) is not "
                                  "genuine: its MAC does not match (forged or edited, or made with another keyring)")

    def _check_anchor(self, anchor: Anchor, records: list[AuditRecord]) -> None:
        if anchor.trail != self.name:
            raise AuditChainError(f"the anchor is of the audit trail {anchor.trail}, not {self.name} "
                                  f"({self.path}): check --project-dir and VEIL_AUDIT_DB")
        if len(records) < anchor.sequence:
            raise AuditChainError(f"{self.path}: the audit trail was truncated: it has {len(records)} records, "
                                  f"the anchor of {anchor.time} saw {anchor.sequence}")
        if not hmac.compare_digest(records[anchor.sequence - 1].hash, anchor.head_mac):
            raise AuditChainError(f"{self.path}: record {anchor.sequence} is not the one anchored at {anchor.time}: "
                                  "the trail was rewritten since")


def _audit_key(ring: Keyring, key_id: str, where: str) -> DataKey:
    """The audit key version `key_id` names; AuditChainError when it names no audit key."""
    from veil.keyring import parse_key_id

    try:
        name, version = parse_key_id(key_id)
    except KeyConfigError:
        raise AuditChainError(f"{where}: malformed key id {key_id!r}") from None
    if name != AUDIT_KEY:
        raise AuditChainError(f"{where} claims a MAC under {key_id}, which is not an audit key: it was changed")
    try:
        return ring.get(AUDIT_KEY, version)
    except KeyConfigError as error:
        raise KeyConfigError(f"cannot verify {where}: {error} (is this the keyring that wrote it?)") from None


def _anchor_mac(key: DataKey, anchor: Anchor) -> str:
    return hmac.new(_derive(key, ANCHOR_INFO), anchor.signed_bytes(), hashlib.sha256).hexdigest()


def audit_trail(env: Mapping[str, str] = os.environ) -> AuditTrail:
    """The trail `env` names, MACed with the keyring `env` selects."""
    from veil.keyring import load_keyring

    return AuditTrail(audit_db_path(env), keyring=lambda: load_keyring(env), env=env)
