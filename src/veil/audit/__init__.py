"""The audit trail: append-only, hash-chained records in their own DuckDB file."""

from veil.audit.trail import AUDIT_DB_ENV, AuditRecord, AuditTrail, audit_trail

__all__ = ["AUDIT_DB_ENV", "AuditRecord", "AuditTrail", "audit_trail"]
