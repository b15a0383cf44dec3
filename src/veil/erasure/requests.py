"""Erasure requests: what the registry asks, what the audit trail confirmed, what is on hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

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


def load_requests(policies: Policies, con: duckdb.DuckDBPyConnection, relations: PhysicalRelations) -> list[Request]:
    """Every request in the registry, oldest first (one per id)."""
    spec = policies.project.erasure
    if spec is None:
        return []
    id_column = f'"{spec.request_id}"' if spec.request_id else "NULL"
    rows = con.execute(
        f'SELECT CAST({id_column} AS VARCHAR), CAST("{spec.subject}" AS VARCHAR), "{spec.requested_at}" '
        f'FROM {relations.sql_name(spec.relation)} WHERE "{spec.subject}" IS NOT NULL '
        f'ORDER BY "{spec.requested_at}" NULLS LAST, 2').fetchall()
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
