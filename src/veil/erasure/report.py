"""Proof of erasure from the audit trail: per request, per system, what was done and when.

>>> print(format_sla([SlaLine("r1", "2026-10-01", "2026-10-31", 3, True)]))
request  requested   due         status
r1       2026-10-01  2026-10-31  OVERDUE by 3 days
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from veil.audit.trail import AuditTrail
from veil.erasure.requests import STEP, Request, completed_ids, request_states


def _day(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value or "")


def request_report(trail: AuditTrail, requests: list[Request], sla_days: int, only: str | None = None) -> list[dict]:
    """One entry per request: status, dates, and every system step with method, rows and times."""
    steps: dict[str, dict[str, dict]] = {}
    for record in trail.records(kind=STEP):
        for request_id, rows in record.details.get("requests", {}).items():
            step = steps.setdefault(request_id, {}).setdefault(record.system, {
                "system": record.system, "kind": record.details.get("system_kind"), "method": record.method})
            step[f"{record.status}_at"] = record.recorded_at
            if record.status == "completed" or "rows" not in step:
                step["rows"] = rows
            step["status"] = record.status
    states = request_states(trail)
    entries = []
    for request in requests:
        if only is not None and request.request_id != only:
            continue
        status, reason, at = states.get(request.request_id, ("open", None, None))
        entries.append({
            "request_id": request.request_id,
            "requested_at": _day(request.requested_at),
            "due": _day(request.due(sla_days)),
            "status": status,
            "completed_at": at if status == "completed" else None,
            "reason": reason,
            "systems": sorted(steps.get(request.request_id, {}).values(), key=lambda s: s["system"]),
        })
    return entries


def format_report(entries: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"requests": entries}, indent=2, default=str)
    lines = ["# Erasure report", ""]
    for entry in entries:
        lines += [f"## Request {entry['request_id']}: {entry['status']}", "",
                  f"requested {entry['requested_at']}, due {entry['due']}"
                  + (f", completed {entry['completed_at']}" if entry["completed_at"] else "")
                  + (f"; {entry['reason']}" if entry.get("reason") else ""), "",
                  "| system | kind | method | rows | started | completed | status |",
                  "|---|---|---|---|---|---|---|"]
        for step in entry["systems"]:
            lines.append(f"| {step['system']} | {step.get('kind') or ''} | {step['method']} | {step.get('rows')} | "
                         f"{step.get('started_at', '')} | {step.get('completed_at', '')} | {step['status']} |")
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class SlaLine:
    request_id: str
    requested: str
    due: str
    days_late: int
    overdue: bool


def sla(trail: AuditTrail, requests: list[Request], sla_days: int, now: datetime | None = None) -> list[SlaLine]:
    """Open requests (not completed), with their due date; overdue ones flagged."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    done = completed_ids(trail)
    lines = []
    for request in requests:
        if request.request_id in done:
            continue
        due = request.due(sla_days)
        late = (now - due).days if due else 0
        lines.append(SlaLine(request.request_id, _day(request.requested_at), _day(due), max(late, 0),
                             bool(due and now > due)))
    return lines


def format_sla(lines: list[SlaLine], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"open": [asdict(line) for line in lines]}, indent=2)
    out = [f"{'request':<8} {'requested':<11} {'due':<11} status"]
    for line in lines:
        status = f"OVERDUE by {line.days_late} days" if line.overdue else "open"
        out.append(f"{line.request_id:<8} {line.requested:<11} {line.due:<11} {status}")
    return "\n".join(out)
