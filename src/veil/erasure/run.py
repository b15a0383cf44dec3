"""`veil erase`: erase every pending request from every system, crash-safely.

Order of a run:
1. pending = registry requests without a `completed` record in the audit
   trail (or, with `reapply`, those with one); subjects on legal hold wait;
2. per system (vault first), for all pending subjects at once: count rows per
   subject, record `started` steps, erase with one statement, record
   `completed` steps; a system on legal hold is left alone;
3. make the deletions physical (`Warehouse.compact`: DuckDB rewrites its
   file, PostgreSQL runs `VACUUM FULL` on each changed table, after the
   deletes commit); the vault and published files are rewritten in their
   own step;
4. a request is `completed` only when every system confirmed it and the
   rewrite is done; otherwise it stays open (a hold's reason is recorded).

Killed at any point, a re-run finishes the job: steps already confirmed are
skipped, a step that started but was not confirmed is redone (deleting
what is already deleted changes nothing) and confirmed once, with the rows
counted when it started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from veil.audit.trail import AuditTrail
from veil.erasure.actions import Context, erase_system
from veil.erasure.requests import (
    REQUEST,
    STEP,
    Request,
    completed_ids,
    confirmed_steps,
    load_requests,
    request_states,
    started_steps,
)
from veil.erasure.systems import FILE_KINDS, System, discover_systems, file_systems
from veil.errors import UsageError
from veil.identity import build_identity_graph, canonical_subject
from veil.policy.yaml_lines import line_of
from veil.project import Project

CRASH_ENV = "VEIL_ERASE_CRASH_AT"   # tests: kill the process at a named point


@dataclass
class SystemOutcome:
    system: System
    rows: int = 0
    requests: int = 0
    note: str = ""


@dataclass
class ErasureResult:
    pending: list[Request] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)        # request id -> reason
    invalid: dict[str, str] = field(default_factory=dict)     # request id -> why its subject id is refused
    systems: list[System] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    outcomes: list[SystemOutcome] = field(default_factory=list)
    dry_run: bool = False
    reapply: bool = False
    seconds: dict[str, float] = field(default_factory=dict)   # systems (count, erase, journal), rewrite

    @property
    def unresolved(self) -> list[System]:
        return [s for s in self.systems if s.blocks]


def _crash_point(name: str, env: Mapping[str, str]) -> None:
    if env.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _step(status: str, system: System, rows: dict[str, int]) -> dict:
    return {"kind": STEP, "system": system.name, "method": system.method, "rows": sum(rows.values()),
            "status": status, "detail": {"system_kind": system.kind, "requests": rows}}


@dataclass(frozen=True)
class Journal:
    """What the trail held when the run began: (request id, system) -> rows, per step status.

    Read once per run: a system's steps only ever concern that system, so the
    steps this run adds for other systems change nothing for the next one.
    """

    confirmed: dict[tuple[str, str], int]
    started: dict[tuple[str, str], int]


def _erase_one_system(context: Context, trail: AuditTrail, journal: Journal, system: System,
                      requests: list[Request], env: Mapping[str, str], record: bool) -> SystemOutcome:
    todo = [r for r in requests if (r.request_id, system.name) not in journal.confirmed]
    if not todo:
        return SystemOutcome(system, note="already confirmed")
    subjects = sorted({r.subject for r in todo})
    started = journal.started
    counts = erase_system(context, system, subjects, apply=True,
                          before_apply=lambda counts: record and trail.append_many([_step(
                              "started", system, {r.request_id: counts.get(r.subject, 0) for r in todo
                                                  if (r.request_id, system.name) not in started})]))
    _crash_point(f"after-erase:{system.name}", env)
    rows = {r.request_id: counts.get(r.subject, 0) or started.get((r.request_id, system.name), 0) for r in todo}
    if record:
        trail.append_many([_step("completed", system, rows)])
        _crash_point(f"after-confirm:{system.name}", env)
    return SystemOutcome(system, sum(rows.values()), len(todo))


def _completions(trail: AuditTrail, requests: list[Request], systems: list[System],
                 held: dict[str, str], invalid: dict[str, str]) -> tuple[list[dict], list[str]]:
    confirmed = confirmed_steps(trail)
    table_holds = [f"{s.name}: {s.hold}" for s in systems if s.hold]
    unresolved = [f"{s.name}: {s.method}" for s in systems if s.blocks]
    states = request_states(trail)
    completed: list[str] = []
    on_hold: dict[str, dict[str, str]] = {}
    for request in requests:
        if request.request_id in held:
            reason = f"subject on legal hold: {held[request.request_id]}"
        elif request.request_id in invalid:
            reason = invalid[request.request_id]
        elif table_holds:
            reason = "tables on legal hold: " + "; ".join(table_holds)
        elif unresolved:
            reason = "unresolved: " + "; ".join(unresolved)
        elif all((request.request_id, s.name) in confirmed for s in systems if s.stores_data):
            completed.append(request.request_id)
            continue
        else:
            continue
        status = "on_hold" if request.request_id in held or (table_holds and request.request_id not in invalid) \
            else "open"
        if states.get(request.request_id, (None, None, None))[:2] != (status, reason):
            on_hold.setdefault(status, {})[request.request_id] = reason
    entries = []
    if completed:
        entries.append({"kind": REQUEST, "status": "completed", "rows": len(completed),
                        "detail": {"requests": {rid: None for rid in completed},
                                   "systems": sum(s.stores_data for s in systems)}})
    for status, reasons in sorted(on_hold.items()):
        entries.append({"kind": REQUEST, "status": status, "rows": len(reasons), "detail": {"requests": reasons}})
    return entries, completed


def _touched_tables(result: ErasureResult, journal: Journal, warehouse) -> list:
    """The warehouse tables this run erased from, and those a crashed run of the same requests did.

    With a vault in the warehouse (PostgreSQL), its tables too when it forgot entries.
    """
    pending = {r.request_id for r in result.pending}
    earlier = {name for (request_id, name), rows in journal.confirmed.items() if rows and request_id in pending}
    touched = {o.system for o in result.outcomes if o.rows or o.system.name in earlier}
    tables = {s.identity.table for s in touched if s.identity is not None and s.kind not in FILE_KINDS}
    if any(s.kind == "database vault" for s in touched):
        tables.update(warehouse.vault_tables())
    return sorted(tables)


@contextlib.contextmanager
def _exclusive(trail: AuditTrail) -> Iterator[None]:
    """One `veil erase` at a time per audit trail; the OS releases the lock if the process dies."""
    trail.path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{trail.path}.erase.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError("another `veil erase` is running on this audit trail; try again when it is done") from None
        yield


def run_erasure(project: Project, *, dry_run: bool = False, reapply: bool = False,
                progress: Callable[[list[System]], Iterable[System]] = lambda s: s) -> ErasureResult:
    """Erase (or, dry, count: writing nothing at all) every pending request; with `reapply`, redo completed ones."""
    if dry_run:
        return _run_erasure(project, dry_run=True, reapply=reapply, progress=progress)
    with _exclusive(project.trail()):
        return _run_erasure(project, dry_run=False, reapply=reapply, progress=progress)


def _subjects(requests: list[Request], graph, holds: Mapping[str, str], policies
              ) -> tuple[list[Request], dict[str, str], dict[str, str]]:
    """Requests with canonical subjects; (valid, held: id -> reason, invalid: id -> reason)."""
    canonical_holds = {}
    for subject, reason in holds.items():
        canonical = canonical_subject(subject, graph.kind)
        if canonical is None:
            line = line_of(policies.project_doc, ("erasure", "legal_holds", "subjects", subject))
            raise UsageError(f"{policies.project_file}:{line or '?'}: erasure.legal_holds.subjects: {subject!r} is "
                             f"not a canonical {graph.kind.value} subject id (write it as the warehouse prints it)")
        canonical_holds[canonical] = reason
    valid, held, invalid = [], {}, {}
    for request in requests:
        canonical = canonical_subject(request.subject, graph.kind)
        if canonical is None:
            invalid[request.request_id] = (f"subject id {request.subject!r} is not a canonical {graph.kind.value} id: "
                                           "refused, never matched loosely; correct the registry row")
        elif canonical in canonical_holds:
            held[request.request_id] = canonical_holds[canonical]
        else:
            valid.append(request)
    return valid, held, invalid


def _run_erasure(project: Project, *, dry_run: bool, reapply: bool,
                 progress: Callable[[list[System]], Iterable[System]]) -> ErasureResult:
    policies, env = project.policies, project.env
    spec = policies.project.erasure
    if spec is None:
        raise UsageError("policies/veil.yml has no `erasure:` relation: nothing to erase")
    plan = project.plan
    keyring = project.keyring()
    trail = project.trail()
    result = ErasureResult(dry_run=dry_run, reapply=reapply)
    with project.warehouse(read_only=dry_run) as warehouse:
        graph = build_identity_graph(policies, project.manifest, warehouse, project.compiled_sql)
        requests = load_requests(policies, warehouse)
        done = completed_ids(trail)
        targets = [r for r in requests if (r.request_id in done) == reapply]
        valid, result.held, result.invalid = _subjects(targets, graph, spec.legal_holds.subjects, policies)
        result.pending = valid
        consent = policies.project.consent
        systems = discover_systems(plan, graph, vault_file=project.vault_path,
                                   files=file_systems(trail, project, warehouse), project_dir=project.root,
                                   consent_key=warehouse.locate(consent.relation).key if consent else None,
                                   database_vault=warehouse.vault_name())
        result.systems = systems
        context = Context(plan, warehouse, graph, keyring, trail)
        subjects = sorted({r.subject for r in result.pending})
        context.register_pending(subjects)
        journal = (Journal(confirmed_steps(trail), started_steps(trail)) if not (dry_run or reapply)
                   else Journal({}, {}))
        started_at = time.perf_counter()
        for system in progress(systems):
            if system.hold:
                result.outcomes.append(SystemOutcome(system, note=f"legal hold: {system.hold}"))
            elif not system.stores_data:
                result.outcomes.append(SystemOutcome(system, note=system.method))
            elif dry_run:
                counts = erase_system(context, system, subjects, apply=False)
                result.outcomes.append(SystemOutcome(system, sum(counts.values()), len(counts), "dry run"))
            else:
                result.outcomes.append(_erase_one_system(context, trail, journal, system, result.pending, env,
                                                         record=not reapply))
        result.seconds["systems"] = time.perf_counter() - started_at
        if dry_run:
            return result
        _crash_point("before-rewrite", env)
        started_at = time.perf_counter()
        # after the deletes commit: DuckDB rewrites its file, PostgreSQL runs VACUUM FULL on each table
        warehouse.compact(_touched_tables(result, journal, warehouse))
        result.seconds["rewrite"] = time.perf_counter() - started_at
        location = warehouse.location
    _crash_point("after-rewrite", env)
    if reapply:
        trail.append("erasure.reapply", system=location, method="delete",
                     rows=sum(o.rows for o in result.outcomes), status="completed",
                     detail={"requests": len(result.pending)})
        return result
    entries, result.completed = _completions(trail, result.pending + [r for r in targets if r.request_id in
                                                                      result.held or r.request_id in result.invalid],
                                             systems, result.held, result.invalid)
    trail.append_many(entries)
    return result
