"""`veil erase`: erase every pending request from every system, crash-safely.

Order of a run:
1. pending = registry requests without a `completed` record in the audit
   trail (or, with `reapply`, those with one); subjects on legal hold wait;
2. per system (vault first), for all pending subjects at once: count rows per
   subject, record `started` steps, erase with one statement, record
   `completed` steps; a system on legal hold is left alone;
3. rewrite the warehouse file so the deleted bytes are gone (the vault and
   published files are rewritten in their own step);
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
from pathlib import Path

import duckdb

from veil.audit.trail import AuditTrail, audit_trail
from veil.compile.plan import plan_project
from veil.duckdb_functions import register_functions
from veil.erasure.actions import Context, erase_system
from veil.erasure.physical import rewrite_database
from veil.erasure.requests import (REQUEST, STEP, Request, completed_ids, confirmed_steps, load_requests,
                                   request_states, started_steps)
from veil.erasure.systems import System, discover_systems
from veil.errors import UsageError
from veil.keyring import load_keyring
from veil.policy.load import load_policies
from veil.relations import PhysicalRelations
from veil.vault import vault_path

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
    completed: list[str] = field(default_factory=list)
    outcomes: list[SystemOutcome] = field(default_factory=list)
    dry_run: bool = False
    reapply: bool = False
    seconds: dict[str, float] = field(default_factory=dict)   # systems (count, erase, journal), rewrite


def _crash_point(name: str, env: Mapping[str, str]) -> None:
    if env.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def published_files(trail: AuditTrail) -> list[Path]:
    """Files `veil publish` wrote that still exist."""
    return sorted({Path(r.system) for r in trail.records(kind="publish") if r.system and Path(r.system).is_file()})


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
                      requests: list[Request], env: Mapping[str, str], subject_names: list[str],
                      record: bool) -> SystemOutcome:
    todo = [r for r in requests if (r.request_id, system.name) not in journal.confirmed]
    if not todo:
        return SystemOutcome(system, note="already confirmed")
    subjects = sorted({r.subject for r in todo})
    started = journal.started
    counts = erase_system(context, system, subjects, apply=True, subject_names=subject_names,
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
                 held: dict[str, str]) -> tuple[list[dict], list[str]]:
    confirmed = confirmed_steps(trail)
    table_holds = [f"{s.name}: {s.hold}" for s in systems if s.hold]
    states = request_states(trail)
    completed: list[str] = []
    on_hold: dict[str, str] = {}
    for request in requests:
        if request.request_id in held:
            reason = f"subject on legal hold: {held[request.request_id]}"
        elif table_holds:
            reason = "tables on legal hold: " + "; ".join(table_holds)
        elif all((request.request_id, s.name) in confirmed for s in systems if s.stores_data):
            completed.append(request.request_id)
            continue
        else:
            continue
        if states.get(request.request_id, (None, None, None))[:2] != ("on_hold", reason):
            on_hold[request.request_id] = reason
    entries = []
    if completed:
        entries.append({"kind": REQUEST, "status": "completed", "rows": len(completed),
                        "detail": {"requests": {rid: None for rid in completed},
                                   "systems": sum(s.stores_data for s in systems)}})
    if on_hold:
        entries.append({"kind": REQUEST, "status": "on_hold", "rows": len(on_hold), "detail": {"requests": on_hold}})
    return entries, completed


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


def run_erasure(project_dir: Path, database: Path, *, dry_run: bool = False, reapply: bool = False,
                env: Mapping[str, str] = os.environ,
                progress: Callable[[list[System]], Iterable[System]] = lambda s: s) -> ErasureResult:
    """Erase (or, dry, count) every pending request; with `reapply`, redo every completed one."""
    with _exclusive(audit_trail(env)):
        return _run_erasure(project_dir, database, dry_run=dry_run, reapply=reapply, env=env, progress=progress)


def _run_erasure(project_dir: Path, database: Path, *, dry_run: bool, reapply: bool, env: Mapping[str, str],
                 progress: Callable[[list[System]], Iterable[System]]) -> ErasureResult:
    policies = load_policies(project_dir)
    spec = policies.project.erasure
    if spec is None:
        raise UsageError("policies/veil.yml has no `erasure:` relation: nothing to erase")
    if not database.is_file():
        raise UsageError(f"warehouse {database} not found")
    plan = plan_project(policies)
    keyring = load_keyring(env)
    trail = audit_trail(env)
    result = ErasureResult(dry_run=dry_run, reapply=reapply)
    con = duckdb.connect(str(database), read_only=dry_run)
    try:
        register_functions(con, keyring, env)
        relations = PhysicalRelations.for_project(project_dir, con)
        requests = load_requests(policies, con, relations)
        done = completed_ids(trail)
        targets = [r for r in requests if (r.request_id in done) == reapply]
        result.held = {r.request_id: spec.legal_holds.subjects[r.subject] for r in targets
                       if r.subject in spec.legal_holds.subjects}
        result.pending = [r for r in targets if r.request_id not in result.held]
        systems = discover_systems(plan, con, relations, project_dir, published_files(trail), vault_path(env))
        subject_names = [n for n in [spec.subject, *(t.policy.subject for t in policies.table_list())] if n]
        context = Context(plan, con, relations, keyring)
        journal = (Journal(confirmed_steps(trail), started_steps(trail)) if not (dry_run or reapply)
                   else Journal({}, {}))
        started_at = time.perf_counter()
        for system in progress(systems):
            if system.hold:
                result.outcomes.append(SystemOutcome(system, note=f"legal hold: {system.hold}"))
            elif not system.stores_data:
                result.outcomes.append(SystemOutcome(system, note=system.method))
            elif dry_run:
                counts = erase_system(context, system, sorted({r.subject for r in result.pending}), apply=False,
                                      subject_names=subject_names)
                result.outcomes.append(SystemOutcome(system, sum(counts.values()), len(counts), "dry run"))
            else:
                result.outcomes.append(_erase_one_system(context, trail, journal, system, result.pending, env,
                                                         subject_names, record=not reapply))
        result.seconds["systems"] = time.perf_counter() - started_at
    finally:
        con.close()
    if dry_run:
        return result
    _crash_point("before-rewrite", env)
    started_at = time.perf_counter()
    rewrite_database(database)
    result.seconds["rewrite"] = time.perf_counter() - started_at
    _crash_point("after-rewrite", env)
    if reapply:
        trail.append("erasure.reapply", system=str(database), method="delete",
                     rows=sum(o.rows for o in result.outcomes), status="completed",
                     detail={"requests": len(result.pending)})
        return result
    entries, result.completed = _completions(trail, result.pending + [r for r in targets if r.request_id in
                                                                      result.held], systems, result.held)
    trail.append_many(entries)
    return result
