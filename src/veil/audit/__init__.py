"""The audit trail: append-only, hash-chained records in their own DuckDB file."""

from veil.audit.trail import AUDIT_DB_ENV, AuditChainError, AuditRecord, AuditTrail, actor, audit_trail, digest

__all__ = ["AUDIT_DB_ENV", "AuditChainError", "AuditRecord", "AuditTrail", "actor", "audit_trail", "digest"]
