"""The audit trail: append-only records chained by a MAC under the keyring's audit key, in their own DuckDB file."""

from veil.audit.trail import (
    AUDIT_DB_ENV,
    Anchor,
    AuditChainError,
    AuditRecord,
    AuditTrail,
    Verification,
    actor,
    audit_trail,
    digest,
)

__all__ = ["AUDIT_DB_ENV", "Anchor", "AuditChainError", "AuditRecord", "AuditTrail", "Verification", "actor",
           "audit_trail", "digest"]
