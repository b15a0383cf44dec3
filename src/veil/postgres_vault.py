"""The token vault of a PostgreSQL warehouse, read and erased from Python through the warehouse seam.

On PostgreSQL, `tokenize` keeps its vault in the database itself
(`veil_private.vault_tokens`, `veil.postgres_reversible`), where no role but
`veil_keys` reads it. A few `SECURITY DEFINER` functions are its only doors,
and none shows an original: `veil.vault_entry(token)` returns the entry's
keyed fingerprint and its sealed original, which only a holder of the
keyring opens (here, in Python: the database never decrypts); the others
count and erase entries by owner (a keyed digest the database computes from
the subject id) or by keyed fingerprint (computed here), so `PostgresVault`
has the erasure methods of the DuckDB `veil.vault.Vault` (`count_owned`,
`count_fingerprints`, `forget`, `forget_subjects`) for `veil erase` to use.

The entry is opened as the DuckDB vault opens its own (`veil.vault.open_entry`):
a token made with other options, or by another column's rule, is None.

>>> entry_query().sql(dialect="postgres")
'SELECT fingerprint, sealed FROM veil.VAULT_ENTRY(%s)'
>>> forget_query().sql(dialect="postgres")
'SELECT subject, removed FROM veil.VAULT_FORGET_SUBJECTS(CAST(%s AS TEXT[]))'
>>> call_query("vault_forget", "vault_forget", 2).sql(dialect="postgres")
'SELECT vault_forget FROM veil.VAULT_FORGET(CAST(%s AS TEXT[]), %s)'
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from veil.vault import fingerprint, fingerprint_key, open_entry

SCHEMA = "veil"
NAME = "veil_private.vault_tokens"   # what erasure reports
TABLES = (("veil_private", "vault_tokens"), ("veil_private", "vault_owners"))   # what holds entries: compacted
INSTALLED = ("SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
             "WHERE n.nspname = 'veil' AND p.proname = 'vault_forget_subjects'")


def _call(function: str, argument: exp.Expression) -> exp.Table:
    return exp.Table(this=exp.Anonymous(this=function, expressions=[argument]), db=exp.to_identifier(SCHEMA))


def entry_query() -> exp.Select:
    """(fingerprint, sealed) of the entry that issued one bound token."""
    return exp.select("fingerprint", "sealed").from_(_call("vault_entry", exp.Placeholder()))


def call_query(function: str, columns: str, arguments: int = 1) -> exp.Select:
    """SELECT `columns` FROM veil.<function>(<text[]>, ...): a bound array first, then bound scalars."""
    bound = [exp.cast(exp.Placeholder(), exp.DataType.build("TEXT[]", dialect="postgres"))]
    bound += [exp.Placeholder() for _ in range(arguments - 1)]
    return exp.select(*columns.split(", ")).from_(exp.Table(
        this=exp.Anonymous(this=function, expressions=bound), db=exp.to_identifier(SCHEMA)))


def forget_query() -> exp.Select:
    """(subject, removed) for a bound array of subject ids."""
    return call_query("vault_forget_subjects", "subject, removed")


class PostgresVault:
    """The vault of the database `warehouse` (a `veil.warehouse.postgres.PostgresWarehouse`) is on."""

    def __init__(self, warehouse, keyring):
        self.warehouse = warehouse
        self.keyring = keyring
        self._fingerprint_key = fingerprint_key(keyring)

    def lookup(self, token: str, keep_last: int, luhn: str) -> str | None:
        """The original of a token the vault issued with these options; None when it holds no such token."""
        rows = self.warehouse.execute(entry_query(), [token])
        return open_entry(self.keyring, self._fingerprint_key, tuple(rows[0]) if rows else None, keep_last, luhn)

    def fingerprint(self, value: str, keep_last: int, luhn: str) -> str:
        return fingerprint(self._fingerprint_key, value, keep_last, luhn)

    def count_owned(self, subjects: Iterable[str]) -> dict[str, int]:
        """Per subject, how many tokens it owns (subjects owning none are left out)."""
        wanted = sorted({str(s) for s in subjects})
        if not wanted:
            return {}
        return {s: int(n) for s, n in self.warehouse.execute(call_query("vault_count_owned", "subject, tokens"),
                                                             [wanted])}

    def count_fingerprints(self, fingerprints: dict[str, list[str]], *, only_ownerless: bool = False
                           ) -> dict[str, int]:
        """How many of each owner's fingerprints the vault holds (`only_ownerless`: legacy entries only)."""
        wanted = sorted({fp for fps in fingerprints.values() for fp in fps})
        if not wanted:
            return {}
        held = {fp for (fp,) in self.warehouse.execute(call_query("vault_held", "vault_held", 2),
                                                       [wanted, only_ownerless])}
        counts = {who: sum(fp in held for fp in fps) for who, fps in fingerprints.items()}
        return {who: n for who, n in counts.items() if n}

    def forget(self, fingerprints: list[str], *, only_ownerless: bool = False) -> int:
        """Erase entries by fingerprint (with their owners unless `only_ownerless`); how many tokens went."""
        wanted = sorted(set(fingerprints))
        if not wanted:
            return 0
        return int(self.warehouse.execute(call_query("vault_forget", "vault_forget", 2),
                                          [wanted, only_ownerless])[0][0])

    def close(self) -> None:
        """Nothing to close: the warehouse owns the connection."""

    def forget_subjects(self, subjects: Iterable[str]) -> dict[str, int]:
        """Erase the subjects' ownership and every token nobody else owns; per subject, its owner rows removed."""
        wanted = sorted({str(s) for s in subjects})
        if not wanted:
            return {}
        return {subject: int(removed) for subject, removed in self.warehouse.execute(forget_query(), [wanted])}
