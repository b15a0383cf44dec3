"""Erasure requests: what the registry asks, what the audit trail confirmed, what is on hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlglot import exp

from veil.audit.trail import AuditTrail
from veil.policy.loaded import Policies
from veil.relations import PhysicalRelations

REQUEST = "erasure.request"
STEP = "erasure.step"


@dataclass(frozen=True)
class Request:
    """One request of the registry: its id, the subject (as text) and when it was made."""

    request_id: str
    subject: str
    requested_at: datetime | None

    def due(self, sla_days: int) -> datetime | None:
        return self.requested_at + timedelta(days=sla_days) if self.requested_at else None


def _request_id(subject: str, requested_at: object) -> str:
    """A stable id when the registry has no id column: a digest of subject and time."""
    return hashlib.sha256(f"{subject}|{requested_at}".encode()).hexdigest()[:16]


def _text(column: str | None) -> exp.Expression:
    value = exp.column(exp.to_identifier(column, quoted=True)) if column else exp.Null()
    return exp.cast(value, exp.DataType.Type.VARCHAR)


def requests_query(policies: Policies, table: exp.Table) -> exp.Select:
    """(request id, subject as text, requested_at) of every registry row with a subject, oldest first.

    >>> from veil.policy.models import ErasureSpec, ProjectPolicy
    >>> spec = ErasureSpec(relation="source('raw', 'deletion_requests')", subject="user_id", requested_at="asked")
    >>> policies = Policies(ProjectPolicy(version=1, erasure=spec), "policies/veil.yml", {})
    >>> print(requests_query(policies, exp.to_table("raw.deletion_requests")).sql("postgres"))
    SELECT CAST(NULL AS VARCHAR), CAST("user_id" AS VARCHAR), "asked" FROM raw.deletion_requests WHERE NOT "user_id" IS NULL ORDER BY "asked", 2
    """
    spec = policies.project.erasure
    subject = exp.column(exp.to_identifier(spec.subject, quoted=True))
    requested_at = exp.column(exp.to_identifier(spec.requested_at, quoted=True))
    return (exp.select(_text(spec.request_id), _text(spec.subject), requested_at).from_(table)
            .where(exp.Not(this=exp.Is(this=subject, expression=exp.Null())))
            .order_by(exp.Ordered(this=requested_at.copy(), nulls_first=False), exp.Literal.number(2)))


def load_requests(policies: Policies, warehouse, relations: PhysicalRelations | None = None) -> list[Request]:
    """Every request in the registry, oldest first (one per id); `warehouse`: the seam (or a DuckDB connection)."""
    from veil.warehouse import as_warehouse

    spec = policies.project.erasure
    if spec is None:
        return []
    warehouse = as_warehouse(warehouse, relations)
    rows = warehouse.execute(requests_query(policies, warehouse.locate(spec.relation).expression))
    seen: dict[str, Request] = {}
    for request_id, subject, requested_at in rows:
        rid = request_id or _request_id(subject, requested_at)
        seen.setdefault(rid, Request(rid, subject, requested_at))
    return list(seen.values())


def step_entries(trail: AuditTrail, status: str) -> dict[tuple[str, str], int]:
    """(request id, system) -> rows, for the steps the trail records with `status`.

    A step record covers one system for every request of a run: its detail maps
    request ids to rows, so 10k requests cost one record per system, not 10k.
    """
    entries: dict[tuple[str, str], int] = {}
    for record in trail.records(kind=STEP, status=status):
        for request_id, rows in record.details.get("requests", {}).items():
            entries.setdefault((request_id, record.system), rows)
    return entries


def confirmed_steps(trail: AuditTrail) -> dict[tuple[str, str], int]:
    """(request id, system) -> rows, for every step the trail confirms as completed."""
    return step_entries(trail, "completed")


def started_steps(trail: AuditTrail) -> dict[tuple[str, str], int]:
    """(request id, system) -> rows counted when the step started (to finish a crashed run)."""
    return step_entries(trail, "started")


def request_states(trail: AuditTrail) -> dict[str, tuple[str, str | None, str]]:
    """request id -> (latest status, reason, time) from the request records."""
    states: dict[str, tuple[str, str | None, str]] = {}
    for record in trail.records(kind=REQUEST):
        for request_id, reason in record.details.get("requests", {}).items():
            states[request_id] = (record.status, reason, record.recorded_at)
    return states


def completed_ids(trail: AuditTrail) -> set[str]:
    return {rid for rid, (status, _, _) in request_states(trail).items() if status == "completed"}
