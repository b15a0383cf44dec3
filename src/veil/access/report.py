"""Build the access report of one data subject: a pure stage over the warehouse seam (either engine).

The report is plain JSON data (strings, numbers, booleans, None, lists and
dicts): dates and timestamps are ISO strings, decimals are numbers.

>>> plain({"paid": Decimal("12.50"), "at": datetime(2026, 11, 1, 9, 30), "ids": (1, 2)})
{'paid': 12.5, 'at': '2026-11-01T09:30:00', 'ids': [1, 2]}
>>> row_retention({"event_ts": datetime(2026, 10, 20)}, "event_ts", 30, {"ip_address": 7}, datetime(2026, 11, 1))
{'leaves_at': '2026-11-19T00:00:00', 'past_retention': False, 'columns': [{'column': 'ip_address', 'retention_days': 7, 'nulled_at': '2026-10-27T00:00:00', 'expired': True}]}
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlglot import exp

from veil import __version__
from veil.access.queries import (
    consent_current_query,
    consent_history_query,
    erasure_requests_query,
    fetch,
    subject_rows_query,
    via_subject,
)
from veil.compile.plan import Action, ColumnDecision, ModelPlan, plan_project
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ConsentMode
from veil.policy.purposes import lineage
from veil.relations import PhysicalRelations


def plain(value: Any) -> Any:
    """A JSON-ready copy of a warehouse value (ISO dates, numeric decimals, hex bytes)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, (timedelta, uuid.UUID)):
        return str(value)
    return str(value)


def _utc_naive(moment: date | datetime) -> datetime:
    """Compare like the warehouse clock: naive UTC timestamps; a date is its midnight."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time())
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def row_retention(row: dict[str, Any], event_time: str | None, days: int | None, expiring: dict[str, int],
                  as_of: datetime) -> dict[str, Any] | None:
    """When a row leaves (event time + table days) and when each expiring column is nulled.

    A row without an event time cannot be aged: every date is None and
    `past_retention` is None (audience models already exclude it).
    """
    if event_time is None or (days is None and not expiring):
        return None
    when = row.get(event_time)
    stamp = _utc_naive(when) if isinstance(when, (date, datetime)) else None
    clock = _utc_naive(as_of)

    def expiry(limit: int | None) -> tuple[str | None, bool | None]:
        if limit is None or stamp is None:
            return None, None
        end = stamp + timedelta(days=limit)
        return end.isoformat(), clock > end

    leaves_at, past = expiry(days)
    columns = []
    for column, column_days in expiring.items():
        nulled_at, expired = expiry(column_days)
        columns.append({"column": column, "retention_days": column_days, "nulled_at": nulled_at, "expired": expired})
    return {"leaves_at": leaves_at, "past_retention": past, "columns": columns}


def _expiring(table: LoadedTable) -> dict[str, int]:
    return {c.name: c.data_handling.retention_days for c in table.policy.columns if c.data_handling.retention_days}


def _subject_predicate(policies: Policies, table: LoadedTable, relations: PhysicalRelations) -> str | exp.Expression:
    """The subject column, or, for a `via` table, the keys of the subject's rows up its chain."""
    policy = table.policy
    if policy.via is None:
        return policy.subject_column
    from veil.compile.render_model import subject_chain

    chain = subject_chain(table, policies)
    hops = []
    for position, parent in enumerate(chain):
        key = (policy.via if position == 0 else chain[position - 1].policy.via).key
        hops.append((relations.sql_name(parent.relation), key,
                     parent.policy.via.via if parent.policy.via else None, parent.policy.subject_column))
    return via_subject(policy.via.via, hops)


def _table_section(policies: Policies, table: LoadedTable, warehouse, relations: PhysicalRelations,
                   subject: str, as_of: datetime) -> dict[str, Any]:
    policy = table.policy
    physical = relations.sql_name(table.relation)
    days, expiring = policies.retention_days(table), _expiring(table)
    columns = [c.name for c in policy.columns]
    rows = fetch(warehouse, subject_rows_query(physical, columns, _subject_predicate(policies, table, relations),
                                         policy.event_time), subject, f"table {table.name} ({physical})")
    return {
        "table": table.name,
        "policy": table.path,
        "relation": str(table.relation),
        "physical_relation": physical,
        "subject_column": policy.identity_column,
        "subject_via": (None if policy.via is None else
                        {"via": policy.via.via, "relation": policy.via.relation, "key": policy.via.key}),
        "event_time": policy.event_time,
        "retention": {"days": days, "tier": policy.retention, "columns": expiring},
        "on_erasure": policy.erasure,
        "rows": [{"values": plain(row), "retention": row_retention(row, policy.event_time, days, expiring, as_of)}
                 for row in rows],
    }


def _consent_section(policies: Policies, warehouse, relations: PhysicalRelations,
                     subject: str) -> dict[str, Any] | None:
    spec = policies.project.consent
    if spec is None:
        return None
    physical = relations.sql_name(spec.relation)
    what = f"consent relation {spec.relation} ({physical})"
    return {
        "relation": spec.relation,
        "physical_relation": physical,
        "history": plain(fetch(warehouse, consent_history_query(spec, physical), subject, what)),
        "current": plain(fetch(warehouse, consent_current_query(spec, physical), subject, what)),
    }


def _erasure_section(policies: Policies, warehouse, relations: PhysicalRelations,
                     subject: str) -> dict[str, Any] | None:
    spec = policies.project.erasure
    if spec is None:
        return None
    physical = relations.sql_name(spec.relation)
    requests = plain(fetch(warehouse, erasure_requests_query(spec, physical), subject,
                           f"erasure relation {spec.relation} ({physical})"))
    return {"relation": spec.relation, "physical_relation": physical, "requested": bool(requests),
            "requests": requests}


def consent_verdict(policies: Policies, purpose: str, current: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether consent lets the subject into a model of `purpose`, and which decision says so.

    The nearest purpose of the lineage with a current decision decides, as in
    `veil_consent_filter`: opt_in needs it granted, opt_out excludes it denied.
    """
    mode = policies.project.consent_mode(purpose)
    if policies.project.consent is None or mode is ConsentMode.NONE:
        return {"mode": mode.value, "decided_by": None, "granted": None, "allows": True}
    states = {d["purpose"]: d["granted"] for d in current}
    decided_by = next((name for name in lineage(purpose) if name in states), None)
    granted = states.get(decided_by) if decided_by else None
    allows = granted is True if mode is ConsentMode.OPT_IN else granted is not False
    return {"mode": mode.value, "decided_by": decided_by, "granted": granted, "allows": allows}


def handling(decision: ColumnDecision) -> str:
    """`raw`, `masked with <strategy>` or `dropped`."""
    if decision.action is Action.MASK:
        return f"masked with {decision.strategy}"
    return "dropped" if decision.action is Action.DROP else "raw"


def _audience_entry(policies: Policies, model: ModelPlan, table: dict[str, Any], consent: dict[str, Any] | None,
                    erasure: dict[str, Any] | None) -> dict[str, Any]:
    verdict = consent_verdict(policies, model.purpose, consent["current"] if consent else [])
    erased = bool(erasure and erasure["requested"])
    included = verdict["allows"] and not erased
    kept = [r for r in table["rows"] if table["retention"]["days"] is None or r["retention"]["past_retention"] is False]
    return {
        "model": model.name,
        "audience": model.audience,
        "table": model.table.name,
        "purpose": model.purpose,
        "included": included,
        "erased": erased,
        "consent": verdict,
        "rows_in_model": len(kept) if included else 0,
        "columns": [{"column": d.name, "handling": handling(d), "reason": d.reason} for d in model.decisions],
    }


def count_data_rows(report: dict[str, Any]) -> int:
    """Records about the subject in the report: table rows, consent decisions, erasure requests."""
    consent, erasure = report.get("consent"), report.get("erasure")
    return (sum(len(t["rows"]) for t in report["tables"]) + (len(consent["history"]) if consent else 0)
            + (len(erasure["requests"]) if erasure else 0))


def build_access_report(policies: Policies, warehouse, relations: PhysicalRelations | None = None,
                        subject: str = "", *, as_of: datetime | None = None) -> dict[str, Any]:
    """Everything the warehouse holds about `subject`, unmasked, and how veil handles it.

    `warehouse`: the seam (or a bare DuckDB connection, with its `relations`).
    `as_of` is the retention clock (default now, UTC). Tables without a
    `subject` column hold nobody's data as far as the policies say and are
    not searched. An unknown subject gets the same sections, empty.
    """
    from veil.warehouse import as_warehouse

    warehouse = as_warehouse(warehouse, relations)
    relations = warehouse.relations
    now = datetime.now(timezone.utc)
    as_of = as_of or now
    tables = [_table_section(policies, t, warehouse, relations, subject, as_of)
              for t in policies.table_list() if t.policy.subject]
    consent = _consent_section(policies, warehouse, relations, subject)
    erasure = _erasure_section(policies, warehouse, relations, subject)
    with_rows = {t["table"]: t for t in tables if t["rows"]}
    audiences = [_audience_entry(policies, model, with_rows[model.table.name], consent, erasure)
                 for model in plan_project(policies).models if model.table.name in with_rows]
    report = {
        "subject": subject,
        "generated_at": now.isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "tool_version": __version__,
        "tables": tables,
        "consent": consent,
        "audiences": audiences,
        "erasure": erasure,
    }
    report["data_rows"] = count_data_rows(report)
    return report
