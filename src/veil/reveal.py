"""`veil reveal`: turn tokens and ciphertexts back into originals, for authorized audiences only.

An audience may reveal `<table>.<column>` when `policies/veil.yml` lists it
under the audience's `may_reveal`. Reveal prints only what it can prove veil
issued for that column:

- a `veil1:` ciphertext whose AES-GCM tag checks out for `<table>.<column>`
  (the tag binds it to the column: an altered or misplaced one does not open);
- a token of the column's `tokenize` rule that the vault holds, made with the
  rule's options, whose original is still a value of the column in the
  table's relation (the vault is shared by every column: the source is what
  binds a token to this column). The vault is where the models were built:
  the DuckDB file of `VEIL_VAULT` for a DuckDB warehouse, the database itself
  for PostgreSQL (`veil.postgres_vault`, read through the same read-only
  warehouse connection that confirms the source);
- a token of the column's `fpe` rule whose FF1 decryption is a value of the
  column in the table's relation. FF1 has no integrity: any digit string
  decrypts to some digit string, so the decryption alone proves nothing; the
  source does. An erased subject's values are gone from the source, so their
  tokens are refused.

A vault miss is never FF1-decrypted on a column without an `fpe` rule. On a
column with both rules, a vault miss is tried as an FF1 token, which still
needs the source.

All or nothing: when one value of a request cannot be proven, nothing is
printed and the whole request is refused (exit 1), so a batch cannot mix
guesses into real tokens. The source check runs one parameterized query on
the table's relation (values bound, never pasted into SQL), on a read-only
connection; a busy or missing warehouse is a failure (exit 2, "warehouse
busy: ..."), never a reveal.

Every attempt is one record of the audit trail (`veil.audit`): who, which
audience, table and column, why, how many values and their SHA-256 digests,
and the outcome (`status`): `revealed` (with each value's proof), `refused`
(exit 1: an audience without the grant, or an unprovable value; `refusal`
says why, `unproven` which positions) or `failed` (exit 2: bad input, keys,
vault or warehouse; `error` says what). Never a plaintext: messages name
values by position.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from veil.audit.trail import actor, audit_trail
from veil.crypto.field import is_sealed, key_id_of, unseal
from veil.crypto.fpe import FormatPreservingCipher
from veil.errors import DecryptionError, KeyConfigError, UsageError, VeilError
from veil.policy.loaded import Policies
from veil.strategies import STRATEGIES
from veil.strategies.reversible import format_options
from veil.vault import Vault, vault_path

if TYPE_CHECKING:
    from veil.warehouse.base import PhysicalTable, Warehouse

REVEALED, REFUSED, FAILED = "revealed", "refused", "failed"
SOURCE_BATCH = 1000   # values bound per source query


class RevealRefused(VeilError):
    """Nothing revealed: the audience may not reveal the column, or a value is unprovable (exit 1, audited)."""

    exit_code = 1

    def __init__(self, message: str, unproven: Sequence[int] = ()):
        super().__init__(message)
        self.unproven = list(unproven)


@dataclass(frozen=True)
class RevealRequest:
    audience: str
    table: str
    column: str
    values: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class _Candidate:
    """What a value would reveal, and what still has to confirm it."""

    original: str | None          # None: nothing issued for the column gives this value
    proof: str                    # ciphertext, vault, fpe; or why there is none
    needs_source: bool = False    # the original must be a value of the column in the source


WarehouseOpener = Callable[[], AbstractContextManager["Warehouse"]]


class _SharedWarehouse:
    """The warehouse of one request: opened on first use (vault or source), closed with the request."""

    def __init__(self, opener: WarehouseOpener | None, stack: contextlib.ExitStack):
        self.opener, self._stack, self._opened = opener, stack, None

    def __call__(self) -> Warehouse:
        if self._opened is None:
            self._opened = self._stack.enter_context(self.opener())
        return self._opened


def _reversible_rules(policies: Policies, table: str, column: str) -> dict[str, dict]:
    """strategy name -> options, for the column's reversible masking rules (any purpose)."""
    loaded = policies.tables.get(table)
    policy = loaded.policy.column(column) if loaded else None
    if policy is None:
        raise UsageError(f"{table}.{column} is not a column of the policies")
    return {rule.strategy: dict(rule.options) for rule in policy.data_handling.masking.values()
            if STRATEGIES[rule.strategy].reversible}


def _open_ciphertext(value: str, context: str, keyring) -> _Candidate:
    try:
        key_id = key_id_of(value)
    except DecryptionError:
        return _Candidate(None, "a malformed veil1 ciphertext")
    try:
        keyring.by_id(key_id)
    except KeyConfigError as exc:   # the keyring lacks the version: a key problem, not a forgery
        raise DecryptionError(f"cannot decrypt: {exc}") from None
    try:
        return _Candidate(unseal(keyring.by_id, value, context), "ciphertext")
    except DecryptionError:
        return _Candidate(None, f"a ciphertext that does not open for {context} (altered, or sealed for another "
                                "column or key)")


@contextlib.contextmanager
def _vault(env: Mapping[str, str], keyring, warehouse: _SharedWarehouse) -> Iterator[Vault | None]:
    """The token vault, read-only (reveal never creates or changes it); None when there is none."""
    import duckdb

    from veil.warehouse.duckdb import translate_error

    if warehouse.opener is not None and warehouse().dialect == "postgres":
        from veil.postgres_vault import PostgresVault

        yield PostgresVault(warehouse(), keyring)
        return
    path = vault_path(env)
    if not path.is_file():
        yield None
        return
    vault = Vault(path, keyring, read_only=True)
    try:
        yield vault
    except duckdb.Error as exc:
        raise translate_error(exc, f"the token vault {path}") from None
    finally:
        vault.close()


def _candidates(values: Sequence[str], rules: dict[str, dict], context: str, keyring,
                env: Mapping[str, str], warehouse: _SharedWarehouse) -> list[_Candidate]:
    fpe = None
    if "fpe" in rules:
        fpe_keep_last, fpe_luhn = format_options(rules["fpe"])
        fpe = FormatPreservingCipher(keyring.primary("fpe").material)
    tokenized = "tokenize" in rules and any(not is_sealed(v) for v in values)
    with contextlib.ExitStack() as stack:
        vault = stack.enter_context(_vault(env, keyring, warehouse)) if tokenized else None
        out = []
        for value in values:
            if is_sealed(value):
                out.append(_open_ciphertext(value, context, keyring))
                continue
            if "tokenize" in rules:
                original = vault.lookup(value, *format_options(rules["tokenize"])) if vault is not None else None
                if original is not None:
                    out.append(_Candidate(original, "vault", needs_source=True))
                    continue
            if fpe is not None:
                original = fpe.decrypt(value, keep_last=fpe_keep_last, luhn=fpe_luhn)
                if original is not None:
                    out.append(_Candidate(original, "fpe", needs_source=True))
                    continue
            out.append(_Candidate(None, _no_token(rules)))
    return out


def _no_token(rules: dict[str, dict]) -> str:
    made = [what for strategy, what in (("tokenize", "a token in the vault"), ("fpe", "an fpe token"))
            if strategy in rules]
    if not made:
        return "not a veil1 ciphertext, and the column has no other reversible strategy"
    return f"neither a veil1 ciphertext nor {' nor '.join(made)}"


def source_query(table: PhysicalTable, column: str, count: int) -> exp.Select:
    """The distinct values among `count` bound parameters that `column` of `table` holds (as text).

    >>> from veil.warehouse.base import PhysicalTable
    >>> source_query(PhysicalTable("raw", "payments"), "card_number", 2).sql("duckdb")
    'SELECT DISTINCT CAST("card_number" AS TEXT) FROM "raw"."payments" WHERE CAST("card_number" AS TEXT) IN (?, ?)'
    """
    value = exp.cast(exp.column(column, quoted=True), exp.DataType.Type.VARCHAR)
    return (exp.select(value).distinct().from_(table.expression)
            .where(value.copy().isin(*[exp.Placeholder() for _ in range(count)])))


def held_by_source(warehouse: Warehouse, policies: Policies, table: str, column: str,
                   originals: Sequence[str]) -> set[str]:
    """Which of `originals` are values of `table.column` in the policy table's relation."""
    physical = warehouse.locate(policies.tables[table].relation)
    wanted = sorted(set(originals))
    held: set[str] = set()
    for start in range(0, len(wanted), SOURCE_BATCH):
        chunk = wanted[start:start + SOURCE_BATCH]
        held.update(row[0] for row in warehouse.execute(source_query(physical, column, len(chunk)), chunk))
    return held


def _positions(indexes: Sequence[int], total: int) -> str:
    shown = ", ".join(str(i + 1) for i in indexes[:10]) + (", ..." if len(indexes) > 10 else "")
    return f"value {shown} of {total}" if len(indexes) == 1 else f"values {shown} of {total}"


def _prove(candidates: list[_Candidate], request: RevealRequest, policies: Policies,
           warehouse: _SharedWarehouse) -> list[str]:
    """The originals, every one proven; RevealRefused naming the positions of those that are not."""
    target, total = f"{request.table}.{request.column}", len(candidates)
    unproven = [i for i, c in enumerate(candidates) if c.original is None]
    if unproven:
        reasons = sorted({candidates[i].proof for i in unproven})
        raise RevealRefused(f"refused: {_positions(unproven, total)} {'is' if len(unproven) == 1 else 'are'} no "
                            f"token veil issued for {target} ({'; '.join(reasons)}); nothing was revealed, "
                            "the refusal was audited", unproven)
    to_check = [c.original for c in candidates if c.needs_source]
    if to_check:
        if warehouse.opener is None:
            raise UsageError(f"tokens of {target} are confirmed against the warehouse, and none was given")
        opened = warehouse()
        held = held_by_source(opened, policies, request.table, request.column, to_check)
        where = str(opened.locate(policies.tables[request.table].relation))
        unproven = [i for i, c in enumerate(candidates) if c.needs_source and c.original not in held]
        if unproven:
            raise RevealRefused(
                f"refused: {_positions(unproven, total)} {'is' if len(unproven) == 1 else 'are'} no token of a "
                f"value {where}.{request.column} holds (a guess, a token of another column, or a token of an "
                "erased subject); nothing was revealed, the refusal was audited", unproven)
    return [c.original for c in candidates]   # type: ignore[misc]


def reveal(policies: Policies, keyring, request: RevealRequest, env: Mapping[str, str] = os.environ,
           warehouse: WarehouseOpener | None = None) -> list[str]:
    """The originals of `request.values`, in order, all proven; audited whatever happens.

    `keyring`: the keyring, or a function returning it (so that a key that
    does not load is an audited failure too). `warehouse` opens the warehouse (read-only) to confirm tokens against the
    table's relation, and to read the vault of a PostgreSQL warehouse; it is called at most once, only when a
    value needs it (a ciphertext never does).
    """
    target = f"{request.table}.{request.column}"
    trail = audit_trail(env)

    def audit(outcome: str, **extra) -> None:
        trail.append("reveal", system=target, method=request.audience, rows=len(request.values), status=outcome,
                     detail={"actor": actor(env), "reason": request.reason,
                             "value_digests": [trail.value_digest(v) for v in request.values], **extra})

    try:
        audience = policies.project.audiences.get(request.audience)
        if audience is None:
            raise UsageError(f"unknown audience {request.audience!r}")
        if not request.reason.strip():
            raise UsageError("--reason is required: say why the originals are needed")
        rules = _reversible_rules(policies, request.table, request.column)
        if target.lower() not in {t.lower() for t in audience.may_reveal}:
            raise RevealRefused(f"audience {request.audience!r} may not reveal {target} "
                                f"(grant it with may_reveal in policies/veil.yml); the refusal was audited")
        ring = keyring() if callable(keyring) else keyring
        if ring is None:
            raise KeyConfigError("no keys: set VEIL_KEYRING or VEIL_KEY")
        with contextlib.ExitStack() as stack:
            shared = _SharedWarehouse(warehouse, stack)
            candidates = _candidates(request.values, rules, target, ring, env, shared)
            originals = _prove(candidates, request, policies, shared)
    except RevealRefused as exc:
        audit(REFUSED, refusal=str(exc), **({"unproven": [i + 1 for i in exc.unproven]} if exc.unproven else {}))
        raise
    except VeilError as exc:
        audit(FAILED, error=str(exc))
        raise
    except Exception as exc:
        audit(FAILED, error=type(exc).__name__)
        raise
    audit(REVEALED, proofs=[c.proof if not c.needs_source else f"{c.proof}+source" for c in candidates])
    return originals
