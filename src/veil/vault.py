"""The token vault of the `tokenize` strategy: its own DuckDB file, outside the warehouse.

A value gets a random token in its own format (digits stay digits, letters
letters, separators stay, `keep_last` digits in clear, Luhn handled like
`fpe`). The vault keeps, per value, only:

- a keyed fingerprint (HMAC-SHA256 with a key derived from the first version
  of the `vault` key, so it survives rotation) to find the value's token again,
- the token,
- the original sealed with AES-256-GCM (the `vault` key's primary version,
  bound to the fingerprint), and the key id that sealed it.

No plaintext and no unkeyed hash. Tokens are created for new values only;
the same value always gets its token back; the vault never shrinks except by
erasure. The path is `VEIL_VAULT`, else `.veil/vault.duckdb`.
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
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    fingerprint VARCHAR PRIMARY KEY,
    token VARCHAR NOT NULL UNIQUE,
    sealed VARCHAR NOT NULL,
    key_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
)"""


def vault_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get(VAULT_ENV) or DEFAULT_VAULT)


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

    def __init__(self, path: Path, keyring):
        self.path = Path(path)
        self.keyring = keyring
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        first = keyring.get("vault", min(keyring.versions("vault")))
        self._fingerprint_key = HKDF(hashes.SHA256(), 32, None, b"veil/vault/fingerprint").derive(first.material)

    def _connection(self) -> duckdb.DuckDBPyConnection:
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
        message = f"{keep_last}|{luhn}|{value}".encode()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def tokenize(self, values: Iterable[str | None], keep_last: int = 0, luhn: str = "any") -> list[str | None]:
        """Tokens for `values` (None stays None); new values get new tokens, stored sealed."""
        values = list(values)
        wanted = {v: self.fingerprint(v, keep_last, luhn) for v in set(values) if v}
        with self._lock:
            con = self._connection()
            found = dict(con.execute("SELECT fingerprint, token FROM tokens WHERE fingerprint IN "
                                     "(SELECT unnest(?))", [list(wanted.values())]).fetchall()) if wanted else {}
            missing = {v: fp for v, fp in wanted.items() if fp not in found}
            if missing:
                found.update(self._create(con, missing, keep_last, luhn))
        return [found.get(wanted[v]) if v else None for v in values]

    def _create(self, con, missing: dict[str, str], keep_last: int, luhn: str) -> dict[str, str]:
        key = self.keyring.primary("vault")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows: dict[str, tuple] = {}
        pending = dict(missing)
        while pending:
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

    def count_fingerprints(self, fingerprints: dict[str, list[str]]) -> dict[str, int]:
        """How many of each owner's fingerprints the vault holds."""
        wanted = sorted({fp for fps in fingerprints.values() for fp in fps})
        if not wanted:
            return {}
        with self._lock:
            held = {fp for (fp,) in self._connection().execute(
                "SELECT fingerprint FROM tokens WHERE fingerprint IN (SELECT unnest(?))", [wanted]).fetchall()}
        counts = {who: sum(fp in held for fp in fps) for who, fps in fingerprints.items()}
        return {who: n for who, n in counts.items() if n}

    def forget(self, fingerprints: list[str]) -> int:
        """Erase entries (the only way the vault shrinks); returns how many went."""
        if not fingerprints:
            return 0
        with self._lock:
            con = self._connection()
            before = con.execute("SELECT count(*) FROM tokens").fetchall()[0][0]
            con.execute("DELETE FROM tokens WHERE fingerprint IN (SELECT unnest(?))", [sorted(set(fingerprints))])
            con.execute("CHECKPOINT")
            return before - con.execute("SELECT count(*) FROM tokens").fetchall()[0][0]

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
