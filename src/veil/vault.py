"""The token vault of the `tokenize` strategy: its own DuckDB file, outside the warehouse.

A value gets a random token in its own format (digits stay digits, letters
letters, separators stay, `keep_last` digits in clear, Luhn handled like
`fpe`). The vault keeps, per value, only:

- a keyed fingerprint (HMAC-SHA256 with a key derived from the first version
  of the `vault` key, so it survives rotation) to find the value's token again,
- the token,
- the original sealed with AES-256-GCM (the `vault` key's primary version,
  bound to the fingerprint), and the key id that sealed it;
- its owners: a keyed digest of each data subject whose row carried the value
  (HMAC-SHA256, key derived from the same first version), so erasure can
  forget a subject's entries without the raw values, even once the rows are
  gone. A value two subjects share has one token and two owners; an entry
  tokenized before owners existed has none ("legacy").

No plaintext and no unkeyed hash. Tokens are created for new values only;
the same value always gets its token back; the vault shrinks only by erasure
and retention. The path is `VEIL_VAULT`, else `.veil/vault.duckdb`.

>>> import tempfile
>>> from veil.keyring import keyring_from_key
>>> vault = Vault(Path(tempfile.mkdtemp()) / "vault.duckdb", keyring_from_key(bytes(32)))
>>> ada, bob = vault.tokenize(["4111111111111111", "5500000000000004"], keep_last=4, subjects=["1", "2"])
>>> shared, = vault.tokenize(["4111111111111111"], keep_last=4, subjects=["2"])
>>> shared == ada, vault.count_owned(["1", "2"])
(True, {'1': 1, '2': 2})
>>> vault.forget_subjects(["2"]), vault.detokenize(ada)     # still owned by 1: kept
({'2': 2}, '4111111111111111')
>>> vault.detokenize(bob)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
veil.errors.DecryptionError: token ... is not in the vault ...
>>> vault.close()
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.crypto.field import seal, unseal
from veil.crypto.fpe import luhn_residue
from veil.errors import DecryptionError

VAULT_ENV = "VEIL_VAULT"
DEFAULT_VAULT = Path(".veil/vault.duckdb")
LUHN_SHIFT = {"valid": 0, "invalid": 1}
# Draws per value before it gets no token: a format with almost nothing to replace ("7" with luhn
# valid can only be itself) or a nearly full token space would otherwise draw for ever.
MAX_DRAWS = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    fingerprint VARCHAR PRIMARY KEY,
    token VARCHAR NOT NULL UNIQUE,
    sealed VARCHAR NOT NULL,
    key_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS owners (
    fingerprint VARCHAR,
    owner VARCHAR,
    PRIMARY KEY (fingerprint, owner)
)"""

# `tokens` entries among a list of fingerprints; with the second parameter true, only those no subject owns.
_AMONG = ("fingerprint IN (SELECT unnest(?)) AND "
          "(NOT ? OR NOT EXISTS (SELECT 1 FROM owners AS o WHERE o.fingerprint = tokens.fingerprint))")


def vault_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(VAULT_ENV) or DEFAULT_VAULT)


def _first_vault_key(keyring) -> bytes:
    return keyring.get("vault", min(keyring.versions("vault"))).material


def fingerprint_key(keyring) -> bytes:
    """The key of value fingerprints: derived from the first `vault` version, so it survives rotation."""
    return HKDF(hashes.SHA256(), 32, None, b"veil/vault/fingerprint").derive(_first_vault_key(keyring))


def owner_key(keyring) -> bytes:
    """The key of owner digests (data subjects), derived from the same first version."""
    return HKDF(hashes.SHA256(), 32, None, b"veil/vault/owner").derive(_first_vault_key(keyring))


def fingerprint(key: bytes, value: str, keep_last: int, luhn: str) -> str:
    """How the vault finds a value again: hex HMAC-SHA256 of `<keep_last>|<luhn>|<value>` (also on PostgreSQL).

    >>> fingerprint(bytes(32), "4111111111111111", 4, "invalid")[:16]
    'e042e64df9e83108'
    """
    return hmac.new(key, f"{keep_last}|{luhn}|{value}".encode(), hashlib.sha256).hexdigest()


def open_entry(keyring, fingerprint_key: bytes, entry: tuple[str, str] | None, keep_last: int,
               luhn: str) -> str | None:
    """The original of a vault entry (fingerprint, sealed), if the entry was made with these options.

    None without an entry, or for an entry another rule's options made; a sealed original that does
    not open is a DecryptionError. The DuckDB vault and PostgreSQL's (`veil.postgres_vault`) share it.
    """
    if entry is None:
        return None
    entry_fingerprint, sealed = entry
    original = unseal(keyring.by_id, sealed, f"vault:{entry_fingerprint}")
    if not hmac.compare_digest(fingerprint(fingerprint_key, original, keep_last, luhn), entry_fingerprint):
        return None
    return original


def _doubled(digit: int, doubled: bool) -> int:
    if not doubled:
        return digit
    return digit * 2 - 9 if digit * 2 > 9 else digit * 2


def set_luhn_digit(chars: list[str], index: int, target: int) -> None:
    """Set the digit at `index` so the Luhn residue of the digits of `chars` is `target`."""
    digit_positions = [i for i, c in enumerate(chars) if c.isdigit()]
    from_right = len(digit_positions) - 1 - digit_positions.index(index)
    chars[index] = "0"
    rest = luhn_residue("".join(chars[i] for i in digit_positions))
    wanted = (target - rest) % 10
    chars[index] = str(next(d for d in range(10) if _doubled(d, from_right % 2 == 1) == wanted))


def random_token(value: str, keep_last: int = 0, luhn: str = "any", rng=secrets.SystemRandom()) -> str | None:
    """A random token in `value`'s format; None for empty input or nothing to replace.

    >>> token = random_token("4111-1111-1111-1111", keep_last=4, luhn="invalid")
    >>> token[-4:], len(token), token[4], luhn_residue(token.replace("-", "")) == 1
    ('1111', 19, '-', True)
    """
    if not value:
        return None
    chars = list(value)
    digits = [i for i, c in enumerate(chars) if c.isdigit() and c.isascii()]
    kept = set(digits[len(digits) - keep_last:]) if keep_last else set()
    replaced = [i for i, c in enumerate(chars) if c.isalnum() and i not in kept]
    if not replaced:
        return None
    for i in replaced:
        c = chars[i]
        if c.isdigit():
            chars[i] = rng.choice(string.digits)
        else:
            chars[i] = rng.choice(string.ascii_uppercase if c.isupper() else string.ascii_lowercase)
    free_digits = [i for i in digits if i not in kept]
    if luhn in LUHN_SHIFT and free_digits:
        target = (luhn_residue("".join(value[i] for i in digits)) + LUHN_SHIFT[luhn]) % 10
        set_luhn_digit(chars, free_digits[-1], target)
    return "".join(chars)


class Vault:
    """One vault file; safe to share between threads of one process."""

    def __init__(self, path: Path, keyring, read_only: bool = False):
        self.path = Path(path)
        self.keyring = keyring
        self.read_only = read_only   # counting only (a dry run): the file is neither created nor changed
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._fingerprint_key, self._owner_key = fingerprint_key(keyring), owner_key(keyring)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None and self.read_only:
            self._con = duckdb.connect(str(self.path), read_only=True)
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.path))
            self._con.execute(_SCHEMA)
            self._con.execute("CHECKPOINT")
            os.chmod(self.path, 0o600)   # sealed originals and fingerprints: private like the keyring
        return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def fingerprint(self, value: str, keep_last: int, luhn: str) -> str:
        return fingerprint(self._fingerprint_key, value, keep_last, luhn)

    def owner_digest(self, subject: str) -> str:
        """The keyed digest that stands for a data subject (its canonical id as text) in `owners`."""
        return hmac.new(self._owner_key, subject.encode(), hashlib.sha256).hexdigest()

    def tokenize(self, values: Iterable[str | None], keep_last: int = 0, luhn: str = "any",
                 subjects: Iterable[str | None] | None = None) -> list[str | None]:
        """Tokens for `values` (None stays None); new values get new tokens, stored sealed.

        `subjects`, parallel to `values`, binds each tokenized value to the subject of its row
        (None: no binding for that row), in the same transaction as the new tokens.
        """
        values = list(values)
        wanted = {v: self.fingerprint(v, keep_last, luhn) for v in set(values) if v}
        owned: list[tuple[str, str]] = []    # (fingerprint, owner digest)
        if subjects is not None:
            subjects = list(subjects)
            if len(subjects) != len(values):
                raise ValueError(f"{len(subjects)} subjects for {len(values)} values")
            digests = {s: self.owner_digest(s) for s in set(subjects) if s is not None}
            owned = sorted({(wanted[v], digests[s]) for v, s in zip(values, subjects) if v and s is not None})
        with self._lock:
            con = self._connection()
            found = dict(con.execute("SELECT fingerprint, token FROM tokens WHERE fingerprint IN "
                                     "(SELECT unnest(?))", [list(wanted.values())]).fetchall()) if wanted else {}
            missing = {v: fp for v, fp in wanted.items() if fp not in found}
            if missing or owned:
                con.execute("BEGIN TRANSACTION")
                try:
                    if missing:
                        found.update(self._create(con, missing, keep_last, luhn))
                    owned = [pair for pair in owned if pair[0] in found]   # a value without a token owns nothing
                    if owned:
                        con.execute("INSERT INTO owners SELECT unnest(?), unnest(?) ON CONFLICT DO NOTHING",
                                    [[fp for fp, _ in owned], [who for _, who in owned]])
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        return [found.get(wanted[v]) if v else None for v in values]

    def _create(self, con, missing: dict[str, str], keep_last: int, luhn: str) -> dict[str, str]:
        key = self.keyring.primary("vault")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows: dict[str, tuple] = {}
        pending = dict(missing)
        for _ in range(MAX_DRAWS):   # a value still without a token after that gets none (None, no entry)
            if not pending:
                break
            proposed = {v: random_token(v, keep_last, luhn) for v in pending}
            proposed = {v: t for v, t in proposed.items() if t is not None}
            pending = {}
            taken = {t for (t,) in con.execute("SELECT token FROM tokens WHERE token IN (SELECT unnest(?))",
                                              [list(proposed.values())]).fetchall()} if proposed else set()
            seen: set[str] = set()
            for value, token in proposed.items():
                if token in taken or token in seen or token == value:
                    pending[value] = missing[value]   # collision: draw again
                    continue
                seen.add(token)
                fingerprint = missing[value]
                rows[fingerprint] = (fingerprint, token, seal(key, value, f"vault:{fingerprint}"), key.key_id, now)
        if rows:
            con.executemany("INSERT INTO tokens VALUES (?, ?, ?, ?, ?)", list(rows.values()))
        return {fp: row[1] for fp, row in rows.items()}

    def detokenize(self, token: str) -> str:
        """The original of a token; DecryptionError if the vault does not know it."""
        with self._lock:
            row = self._connection().execute("SELECT fingerprint, sealed FROM tokens WHERE token = ?",
                                             [token]).fetchall()
        row = row[0] if row else None
        if row is None:
            raise DecryptionError(f"token {token!r} is not in the vault {self.path}")
        return unseal(self.keyring.by_id, row[1], f"vault:{row[0]}")

    def lookup(self, token: str, keep_last: int, luhn: str) -> str | None:
        """The original of a token the vault issued with these options; None when it holds no such token.

        A token made with other options (another column's `tokenize` rule) is None too: its entry's
        fingerprint is not the original's under `keep_last` and `luhn`. A sealed original that does not
        open is a DecryptionError (an altered vault or a missing key version), never None.
        """
        with self._lock:
            rows = self._connection().execute("SELECT fingerprint, sealed FROM tokens WHERE token = ?",
                                              [token]).fetchall()
        return open_entry(self.keyring, self._fingerprint_key, rows[0] if rows else None, keep_last, luhn)

    def reencrypt(self, batch_size: int = 10_000) -> int:
        """Re-seal entries to the primary `vault` key, a committed batch at a time (resumable)."""
        key = self.keyring.primary("vault")
        done = 0
        while True:
            with self._lock:
                con = self._connection()
                rows = con.execute("SELECT fingerprint, sealed FROM tokens WHERE key_id <> ? LIMIT ?",
                                   [key.key_id, batch_size]).fetchall()
                if not rows:
                    return done
                updated = [(seal(key, unseal(self.keyring.by_id, sealed, f"vault:{fp}"), f"vault:{fp}"),
                            key.key_id, fp) for fp, sealed in rows]
                con.execute("BEGIN TRANSACTION")
                con.executemany("UPDATE tokens SET sealed = ?, key_id = ? WHERE fingerprint = ?", updated)
                con.execute("COMMIT")
                done += len(rows)

    def count_fingerprints(self, fingerprints: dict[str, list[str]], *, only_ownerless: bool = False) -> dict[str, int]:
        """How many of each owner's fingerprints the vault holds (`only_ownerless`: legacy entries only)."""
        wanted = sorted({fp for fps in fingerprints.values() for fp in fps})
        if not wanted:
            return {}
        with self._lock:
            held = {fp for (fp,) in self._connection().execute(
                f"SELECT fingerprint FROM tokens WHERE {_AMONG}", [wanted, only_ownerless]).fetchall()}
        counts = {who: sum(fp in held for fp in fps) for who, fps in fingerprints.items()}
        return {who: n for who, n in counts.items() if n}

    def forget(self, fingerprints: list[str], *, only_ownerless: bool = False) -> int:
        """Erase entries by fingerprint, with their owners; returns how many tokens went.

        `only_ownerless`: erase only legacy entries (no owner), leaving those some subject still owns
        to `forget_subjects`.
        """
        if not fingerprints:
            return 0
        wanted = sorted(set(fingerprints))
        with self._lock:
            con = self._connection()
            con.execute("BEGIN TRANSACTION")
            try:
                gone = con.execute(f"DELETE FROM tokens WHERE {_AMONG}", [wanted, only_ownerless]).fetchall()[0][0]
                if not only_ownerless:
                    con.execute("DELETE FROM owners WHERE fingerprint IN (SELECT unnest(?))", [wanted])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("CHECKPOINT")
            return gone

    def count_owned(self, subjects: list[str]) -> dict[str, int]:
        """Per subject, how many tokens it owns (subjects owning none are left out)."""
        digests = {self.owner_digest(s): s for s in set(subjects)}
        if not digests:
            return {}
        with self._lock:
            try:
                rows = self._connection().execute(
                    "SELECT o.owner, count(*) FROM owners AS o JOIN tokens AS t ON t.fingerprint = o.fingerprint "
                    "WHERE o.owner IN (SELECT unnest(?)) GROUP BY o.owner", [sorted(digests)]).fetchall()
            except duckdb.CatalogException:   # read-only on a vault from before owners existed
                rows = []
        return {digests[owner]: n for owner, n in sorted(rows, key=lambda r: digests[r[0]])}

    def forget_subjects(self, subjects: list[str]) -> dict[str, int]:
        """Erase the subjects' ownership, and every token they owned that nobody else owns.

        A token another subject still owns stays; legacy entries (no owner) are not touched
        (see `forget`). Returns, per subject, how many of its owner rows went (none: left out).
        """
        digests = {self.owner_digest(s): s for s in set(subjects)}
        if not digests:
            return {}
        with self._lock:
            con = self._connection()
            con.execute("BEGIN TRANSACTION")
            try:
                removed = con.execute("DELETE FROM owners WHERE owner IN (SELECT unnest(?)) "
                                      "RETURNING fingerprint, owner", [sorted(digests)]).fetchall()
                orphaned = sorted({fp for fp, _ in removed})
                if orphaned:
                    con.execute(f"DELETE FROM tokens WHERE {_AMONG}", [orphaned, True])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("CHECKPOINT")
        counts: dict[str, int] = {}
        for _, owner in removed:
            counts[digests[owner]] = counts.get(digests[owner], 0) + 1
        return dict(sorted(counts.items()))

    def count(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT count(*) FROM tokens").fetchall()[0][0]


_VAULTS: dict[tuple[str, int], Vault] = {}
_VAULTS_LOCK = threading.Lock()


def shared_vault(path: Path, keyring) -> Vault:
    """One Vault per file and keyring in this process (dbt threads share it)."""
    with _VAULTS_LOCK:
        key = (str(Path(path).resolve()), id(keyring))
        if key not in _VAULTS:
            _VAULTS[key] = Vault(path, keyring)
        return _VAULTS[key]


def close_shared_vaults() -> None:
    """Close every shared vault connection of this process (before another tool opens the files)."""
    with _VAULTS_LOCK:
        for vault in _VAULTS.values():
            vault.close()
        _VAULTS.clear()
