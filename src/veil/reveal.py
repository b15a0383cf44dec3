"""`veil reveal`: turn tokens and ciphertexts back into originals, for authorized audiences only.

An audience may reveal `<table>.<column>` when `policies/veil.yml` lists it
under the audience's `may_reveal`. Every call is a record of the audit trail
(`veil.audit`: who, which audience, table and column, why, how many values
and their digests, the outcome), refusals too; a refusal is exit code 1.

How a value is reversed follows the column's reversible strategies:
a `veil1:` ciphertext is decrypted (`encrypt`), a vault token is looked up
(`tokenize`), anything else is FF1-decrypted with the column's `fpe` options.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from veil.audit.trail import actor, audit_trail, digest
from veil.crypto.field import PREFIX, unseal
from veil.crypto.fpe import FormatPreservingCipher
from veil.errors import DecryptionError, KeyConfigError, UsageError, VeilError
from veil.policy.loaded import Policies
from veil.strategies import STRATEGIES
from veil.strategies.reversible import format_options
from veil.vault import shared_vault, vault_path


class RevealRefused(VeilError):
    """The audience may not reveal this column (exit 1; the refusal is audited)."""

    exit_code = 1


@dataclass(frozen=True)
class RevealRequest:
    audience: str
    table: str
    column: str
    values: tuple[str, ...]
    reason: str


def _reversible_rules(policies: Policies, table: str, column: str) -> dict[str, dict]:
    """strategy name -> options, for the column's reversible masking rules (any purpose)."""
    loaded = policies.tables.get(table)
    policy = loaded.policy.column(column) if loaded else None
    if policy is None:
        raise UsageError(f"{table}.{column} is not a column of the policies")
    return {rule.strategy: dict(rule.options) for rule in policy.data_handling.masking.values()
            if STRATEGIES[rule.strategy].reversible}


def _reverse(value: str, rules: dict[str, dict], context: str, keyring, env: Mapping[str, str]) -> str:
    if value.startswith(f"{PREFIX}:"):
        return unseal(keyring.by_id, value, context)
    if "tokenize" in rules:
        try:
            return shared_vault(vault_path(env), keyring).detokenize(value)
        except DecryptionError:
            if "fpe" not in rules:
                raise
    if "fpe" in rules:
        keep_last, luhn = format_options(rules["fpe"])
        original = FormatPreservingCipher(keyring.primary("fpe").material).decrypt(value, keep_last=keep_last,
                                                                                   luhn=luhn)
        if original is None:
            raise DecryptionError(f"{value!r} is not an fpe token of {context}")
        return original
    raise DecryptionError(f"{context} has no reversible strategy that produces {value!r}")


def reveal(policies: Policies, keyring, request: RevealRequest, env: Mapping[str, str] = os.environ) -> list[str]:
    """The originals of `request.values`, in order; audited whatever happens."""
    audience = policies.project.audiences.get(request.audience)
    if audience is None:
        raise UsageError(f"unknown audience {request.audience!r}")
    if not request.reason.strip():
        raise UsageError("--reason is required: say why the originals are needed")
    target = f"{request.table}.{request.column}"
    rules = _reversible_rules(policies, request.table, request.column)
    trail = audit_trail(env)

    def audit(outcome: str, **extra: str) -> None:
        trail.append("reveal", system=target, method=request.audience, rows=len(request.values), status=outcome,
                     detail={"actor": actor(env), "reason": request.reason,
                             "value_digests": [digest(v) for v in request.values], **extra})

    if target.lower() not in {t.lower() for t in audience.may_reveal}:
        audit("refused")
        raise RevealRefused(f"audience {request.audience!r} may not reveal {target} "
                            f"(grant it with may_reveal in policies/veil.yml); the refusal was audited")
    if keyring is None:
        audit("failed", error="no keys")
        raise KeyConfigError("no keys: set VEIL_KEYRING or VEIL_KEY")
    try:
        originals = [_reverse(v, rules, target, keyring, env) for v in request.values]
    except VeilError as exc:
        audit("failed", error=str(exc))
        raise
    audit("revealed")
    return originals
