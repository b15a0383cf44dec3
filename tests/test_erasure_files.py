"""`veil.erasure.files`: the files veil wrote (access exports, snapshots, temp files of killed runs), erased.

Every byte search first proves the plaintext is in the file, then that it is
gone. Killed runs are real: a subprocess SIGKILLs itself at the rename.
"""

from __future__ import annotations

import doctest
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import veil.erasure.files
import veil.snapshot.erase
from helpers import FIXTURES, REPO
from veil.access import run_access
from veil.access.paths import temp_pattern
from veil.audit.trail import AuditTrail, audit_trail
from veil.compile.plan import plan_project
from veil.erasure.files import (TEMP_FILES, access_exports, erase_access_exports, erase_snapshot,
                                remove_stale_temp_files, snapshot_versions, stale_temp_files)
from veil.errors import VeilError
from veil.policy.load import load_policies
from veil.publish import started_detail
from veil.relations import PhysicalRelations
from veil.snapshot import check_snapshot, create_snapshot, format_check, subject_digest
from veil.snapshot.create import file_sha256

KEY = bytes(range(32))   # a test key, not a secret
TS = datetime(2026, 1, 5, 9, 30)
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
ERASED = "51"
ERASED_TEXT = [b"dev-51-Kq8vXz", b"tok_51_Wm3p"]      # only subject 51's rows hold these
MODELS = {
    "ml__users": ({"user_id": "BIGINT", "birth_date": "INTEGER", "zip": "VARCHAR", "country": "VARCHAR",
                   "created_at": "TIMESTAMP"},
                  [(1, 1990, "641", "US", TS), (2, None, "100", "DE", TS), (3, 2001, "782", "ES", TS),
                   (51, 1985, "Zq9", "XK", TS)]),
    "ml__events": ({"event_id": "BIGINT", "user_id": "BIGINT", "device_id": "VARCHAR", "event_type": "VARCHAR",
                    "amount": "DECIMAL(18,2)", "event_ts": "TIMESTAMP"},
                   [(10, 1, "d_1", "view", Decimal("1.50"), TS), (11, 1, "d_1", "purchase", Decimal("20.00"), TS),
                    (12, 2, "d_2", "click", None, TS), (13, 51, "dev-51-Kq8vXz", "view", None, TS),
                    (14, 51, "dev-51-Kq8vXz", "click", None, TS), (15, None, "d_anon", "view", None, TS)]),
    "ml__payments": ({"payment_id": "BIGINT", "user_id": "BIGINT", "card_number": "VARCHAR", "amount": "DECIMAL(18,2)",
                      "currency": "VARCHAR", "paid_at": "TIMESTAMP"},
                     [(100, 1, "tok_1", Decimal("20.00"), "EUR", TS), (101, 3, "tok_3", Decimal("9.99"), "USD", TS),
                      (102, 51, "tok_51_Wm3p", Decimal("5.00"), "USD", TS)]),
}


def _create(con, name, columns, rows):
    con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", rows)


@pytest.fixture
def warehouse(tmp_path):
    """The reference policies and a warehouse holding the `ml` audience's models (built by hand)."""
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA raw")
        _create(con, "raw.consent_events", {"user_id": "BIGINT", "purpose": "VARCHAR", "granted": "BOOLEAN",
                                            "recorded_at": "TIMESTAMP"}, [(1, "ml_training", True, TS)])
        _create(con, "raw.deletion_requests", {"user_id": "BIGINT", "requested_at": "TIMESTAMP"}, [])
        for name, (columns, rows) in MODELS.items():
            _create(con, name, columns, rows)
    env = {"VEIL_AUDIT_DB": str(tmp_path / "audit.duckdb"), "VEIL_KEY": KEY.hex()}
    return {"root": tmp_path, "plan": plan_project(load_policies(tmp_path)), "database": database, "env": env,
            "trail": audit_trail(env)}     # MACed with env's key, like the snapshots' own records


@pytest.fixture
def snapshot(warehouse):
    folder = create_snapshot(warehouse["plan"], warehouse["database"], "ml", warehouse["root"] / "snapshots",
                             relations=PhysicalRelations({}), env=warehouse["env"], clock=lambda: T0)
    return folder


def rows_by_subject(path: Path) -> dict:
    with duckdb.connect() as con:
        return dict(con.execute(f"SELECT CAST(user_id AS VARCHAR), count(*) FROM read_parquet('{path}') "
                                "GROUP BY ALL").fetchall())


def all_rows(folder: Path) -> dict[str, dict]:
    return {name: rows_by_subject(folder / f"{name}.parquet") for name in MODELS}


def folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def check(warehouse, folder):
    return check_snapshot(warehouse["plan"], warehouse["database"], folder, env=warehouse["env"])


def erase(warehouse, folder, subjects, apply=True):
    return erase_snapshot(folder, subjects, apply, keyring=KEY, trail=warehouse["trail"])


def run_killed(script: str, root: Path, env: dict, *args: str) -> int:
    """Run `script` in a new Python that SIGKILLs itself at its first `os.replace`; its pid."""
    prelude = ("import os, signal, sys\n"
               "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", prelude + script, *args], cwd=root, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return int(next(r.details["pid"] for r in AuditTrail(Path(env["VEIL_AUDIT_DB"])).records()
                    if r.status == "started"))


# -- access exports -----------------------------------------------------------------------------------------------

ACCESS_SUBJECT = "424242"
ACCESS_PII = [b"ada.subject@example.org", b"123-45-6789", b"4111111111111111"]
OTHER_PII = b"other.person@example.net"


@pytest.fixture
def access_project(tmp_path):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute((FIXTURES / "access" / "raw.sql").read_text(encoding="utf-8"))
    env = {"VEIL_AUDIT_DB": str(tmp_path / "audit.duckdb")}
    return tmp_path, database, env, AuditTrail(Path(env["VEIL_AUDIT_DB"]))


def test_access_exports_are_found_and_the_erased_subjects_deleted(access_project, tmp_path):
    project, database, env, trail = access_project
    ada_json = run_access(project, database, ACCESS_SUBJECT, "json", None, env)
    ada_csv = run_access(project, database, ACCESS_SUBJECT, "csv", tmp_path / "exports" / "ada.csv", env)
    other = run_access(project, database, "4242", "json", None, env)      # its id is a prefix of 424242
    assert access_exports(trail) == sorted([ada_json, ada_csv, other])
    for path in (ada_json, ada_csv):
        assert all(pii in path.read_bytes() for pii in ACCESS_PII)
    assert OTHER_PII in other.read_bytes()

    assert erase_access_exports(access_exports(trail), [ACCESS_SUBJECT, "42"], apply=False) == {ACCESS_SUBJECT: 2}
    assert ada_json.is_file() and ada_csv.is_file()
    assert erase_access_exports(access_exports(trail), [ACCESS_SUBJECT], apply=True) == {ACCESS_SUBJECT: 2}
    assert not ada_json.exists() and not ada_csv.exists()
    assert OTHER_PII in other.read_bytes()                                 # exact match: 4242's report stays
    assert access_exports(trail) == [other]
    assert erase_access_exports(access_exports(trail), [ACCESS_SUBJECT], apply=True) == {}


def test_only_files_that_are_access_reports_are_listed(access_project):
    project, database, env, trail = access_project
    report = run_access(project, database, ACCESS_SUBJECT, "json", None, env)
    stamp = report.name.removeprefix(f"{ACCESS_SUBJECT}-")
    lookalike = report.with_name(f"notes-{stamp}")                      # matches the recorded pattern
    lookalike.write_text(json.dumps({"subject": ACCESS_SUBJECT}))          # ...but is not a report
    overwritten = report.with_name(f"4242-{stamp}")                       # a report, about someone else
    shutil.copy(run_access(project, database, "4242", "json", project / "tmp.json", env), overwritten)
    assert lookalike not in access_exports(trail) and overwritten in access_exports(trail)
    assert erase_access_exports([lookalike, overwritten, report], [ACCESS_SUBJECT], apply=True) == {ACCESS_SUBJECT: 1}
    assert lookalike.is_file() and overwritten.is_file() and not report.exists()


def test_a_killed_access_run_leaves_a_temp_file_erasure_removes(access_project):
    project, database, env, trail = access_project
    script = ("from pathlib import Path\nfrom veil.access import run_access\n"
              "run_access(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], 'json', None)\n")
    run_killed(script, project, env, str(project), str(database), ACCESS_SUBJECT)
    assert [r.status for r in trail.records(kind="access")] == ["started"]
    [temp] = list((project / "access").iterdir())
    assert temp.name.startswith(f".{ACCESS_SUBJECT}-") and temp.name.endswith(".tmp")
    assert all(pii in temp.read_bytes() for pii in ACCESS_PII)
    assert stale_temp_files(trail, []) == [temp]
    assert remove_stale_temp_files([temp], apply=False) == {TEMP_FILES: 1} and temp.exists()
    assert remove_stale_temp_files(stale_temp_files(trail, []), apply=True) == {TEMP_FILES: 1}
    assert not temp.exists() and stale_temp_files(trail, []) == []


# -- snapshots ------------------------------------------------------------------------------------------------------

def test_snapshot_versions_come_from_the_trail(warehouse, snapshot):
    assert snapshot_versions(warehouse["trail"]) == [snapshot]
    shutil.rmtree(snapshot)
    assert snapshot_versions(warehouse["trail"]) == []


def test_a_snapshot_is_rewritten_without_the_subjects_rows(warehouse, snapshot):
    before_rows, before_bytes = all_rows(snapshot), folder_bytes(snapshot)
    assert all(text in before_bytes for text in ERASED_TEXT)               # findable first
    assert erase(warehouse, snapshot, [ERASED], apply=False) == {ERASED: 4}
    assert folder_bytes(snapshot) == before_bytes                          # counting changes nothing

    assert erase(warehouse, snapshot, [ERASED, "5", "051"]) == {ERASED: 4}    # exact text: 051 is not 51
    after = folder_bytes(snapshot)
    assert not any(text in after for text in ERASED_TEXT)
    expected = {name: {k: v for k, v in rows.items() if k != ERASED} for name, rows in before_rows.items()}
    assert all_rows(snapshot) == expected                                  # everyone else, NULL subject included
    assert expected["ml__events"][None] == 1
    assert not [p for p in snapshot.iterdir() if p.name.startswith(".")]   # no temp file left


def test_the_manifest_says_retrain_and_the_check_agrees(warehouse, snapshot):
    digest = subject_digest(ERASED, KEY)
    assert digest in json.loads((snapshot / "manifest.json").read_text())["subjects"]
    erase(warehouse, snapshot, [ERASED])
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert digest not in manifest["subjects"] and manifest["retrain_needed"] == [digest]
    assert len(manifest["subjects"]) == 3                                  # 1, 2, 3
    tables = {t["model"]: t for t in manifest["tables"]}
    assert {m: t["rows"] for m, t in tables.items()} == {"ml__events": 4, "ml__payments": 2, "ml__users": 3}
    assert all(t["sha256"] == file_sha256(snapshot / t["file"]) for t in tables.values())
    assert manifest["erasures"][0]["rows_removed"] == {"ml__events": 2, "ml__payments": 1, "ml__users": 1}
    [record] = warehouse["trail"].records(kind="snapshot", status="erased")
    assert (record.system, record.rows, record.details["retrain_needed"]) == (str(snapshot), 4, [digest])
    assert record.details["manifest_sha256"] == file_sha256(snapshot / "manifest.json")

    result = check(warehouse, snapshot)
    assert (result.changed_files, result.audit, result.retrain_needed) == ((), "matches", (digest,))
    assert result.erased_subjects == () and result.exit_code == 1
    assert "RETRAIN: 1 subjects were erased from the files" in format_check(result)
    with duckdb.connect(str(warehouse["database"])) as con:               # the registry agrees: still one
        con.execute("INSERT INTO raw.deletion_requests VALUES (51, '2026-03-02')")
    assert check(warehouse, snapshot).erased_count == 1

    unchanged = folder_bytes(snapshot)
    assert erase(warehouse, snapshot, [ERASED]) == {}                      # a second run has nothing to do
    assert folder_bytes(snapshot) == unchanged
    assert len(warehouse["trail"].records(kind="snapshot", status="erased")) == 1


def test_tampering_after_an_erasure_is_still_caught(warehouse, snapshot):
    erase(warehouse, snapshot, [ERASED])
    manifest = json.loads((snapshot / "manifest.json").read_text())
    manifest["retrain_needed"] = []                                        # hide the erased subject
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    result = check(warehouse, snapshot)
    assert result.audit == "differs" and "manifest.json" in result.changed_files
    assert result.retrain_needed == (subject_digest(ERASED, KEY),)         # the trail remembers

    users = snapshot / "ml__users.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_parquet('{users}') WHERE user_id <> 2) TO '{users}.x' (FORMAT parquet)")
    os.replace(f"{users}.x", users)
    assert "ml__users.parquet" in check(warehouse, snapshot).changed_files


def test_an_erasure_does_not_make_an_earlier_tampering_legitimate(warehouse, snapshot):
    users = snapshot / "ml__users.parquet"
    with duckdb.connect() as con:                                          # someone drops user 3's row
        con.execute(f"COPY (SELECT * FROM read_parquet('{users}') WHERE user_id <> 3) TO '{users}.x' (FORMAT parquet)")
    os.replace(f"{users}.x", users)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    manifest["subjects"] = manifest["subjects"][1:]                       # and hides someone in the manifest
    (snapshot / "manifest.json").write_text(json.dumps(manifest))

    assert erase(warehouse, snapshot, [ERASED]) == {ERASED: 4}
    assert not any(text in folder_bytes(snapshot) for text in ERASED_TEXT)   # erased all the same
    assert rows_by_subject(users) == {"1": 1, "2": 1}
    result = check(warehouse, snapshot)
    assert result.audit == "matches"                                       # the new manifest is veil's...
    assert set(result.changed_files) == {"ml__users.parquet", "manifest.json"}   # ...the old changes still show


def test_a_file_deleted_by_someone_stays_reported(warehouse, snapshot):
    (snapshot / "ml__payments.parquet").unlink()
    assert erase(warehouse, snapshot, [ERASED]) == {ERASED: 3}
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert next(t for t in manifest["tables"] if t["model"] == "ml__payments")["sha256"]     # the old hash, kept
    assert check(warehouse, snapshot).changed_files == ("ml__payments.parquet",)


def test_an_erasure_killed_before_its_renames_finish_is_completed_by_the_next(warehouse, snapshot, monkeypatch):
    real = veil.snapshot.erase._replace
    done = []

    def crash_after_one(temp, path):
        if done:
            raise KeyboardInterrupt("killed")
        done.append(path)
        real(temp, path)

    monkeypatch.setattr(veil.snapshot.erase, "_replace", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        erase(warehouse, snapshot, [ERASED])
    monkeypatch.setattr(veil.snapshot.erase, "_replace", real)
    assert stale_temp_files(warehouse["trail"], [])                        # the unrenamed rewrites
    assert erase(warehouse, snapshot, [ERASED]) == {ERASED: 2}             # events was done; users, payments left
    result = check(warehouse, snapshot)
    assert (result.changed_files, result.audit) == ((), "matches")
    assert result.retrain_needed == (subject_digest(ERASED, KEY),)
    assert not any(text in folder_bytes(snapshot) for text in ERASED_TEXT)
    assert stale_temp_files(warehouse["trail"], []) == []


def test_erasing_from_a_snapshot_needs_the_key(warehouse, snapshot):
    assert erase_snapshot(snapshot, [ERASED], False, keyring=None, trail=warehouse["trail"]) == {ERASED: 4}
    with pytest.raises(VeilError, match="hmac key"):
        erase_snapshot(snapshot, [ERASED], True, keyring=None, trail=warehouse["trail"])


# -- temp files of killed runs -----------------------------------------------------------------------------------

PUBLISH = ("from pathlib import Path\nfrom veil.compile.plan import plan_project\n"
           "from veil.policy.load import load_policies\nfrom veil.publish import publish\n"
           "publish(plan_project(load_policies(Path(sys.argv[1]))), 'ml', Path(sys.argv[2]), Path(sys.argv[3]))\n")


def test_a_killed_publish_is_known_from_its_started_record(warehouse):
    out = warehouse["root"] / "published" / "ml.duckdb"
    pid = run_killed(PUBLISH, warehouse["root"], warehouse["env"], str(warehouse["root"]),
                     str(warehouse["database"]), str(out))
    [started] = warehouse["trail"].records(kind="publish")
    assert (started.system, started.status) == (str(out), "started") and not out.exists()
    temp = out.with_name(f".ml.duckdb.{pid}.tmp")
    assert all(text in temp.read_bytes() for text in ERASED_TEXT)          # the audience's rows, in a hidden file
    stale = stale_temp_files(warehouse["trail"], [])
    assert temp in stale and set(stale) <= {temp, Path(f"{temp}.wal")}
    assert remove_stale_temp_files(stale, apply=False) == {TEMP_FILES: len(stale)} and temp.exists()
    assert remove_stale_temp_files(stale, apply=True) == {TEMP_FILES: len(stale)}
    assert list(out.parent.iterdir()) == [] and stale_temp_files(warehouse["trail"], []) == []


def test_a_completed_publish_leaves_nothing_stale(warehouse):
    from veil.publish import publish

    out = warehouse["root"] / "published" / "ml.duckdb"
    publish(warehouse["plan"], "ml", warehouse["database"], out, trail=warehouse["trail"])
    started, completed = warehouse["trail"].records(kind="publish")
    assert [r.status for r in (started, completed)] == ["started", "completed"]
    assert started.details["run"] == completed.details["run"] and completed.system == str(out)
    assert stale_temp_files(warehouse["trail"], []) == []


def test_a_killed_snapshot_leaves_a_temp_folder_erasure_removes(warehouse):
    script = ("from pathlib import Path\nimport veil.snapshot.create as create\n"
              "from veil.compile.plan import plan_project\nfrom veil.policy.load import load_policies\n"
              "from veil.relations import PhysicalRelations\n"
              "create._move_into_place = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
              "create.create_snapshot(plan_project(load_policies(Path(sys.argv[1]))), Path(sys.argv[2]), 'ml',"
              " Path(sys.argv[3]), relations=PhysicalRelations({}))\n")
    out = warehouse["root"] / "snapshots"
    run_killed(script, warehouse["root"], warehouse["env"], str(warehouse["root"]), str(warehouse["database"]),
               str(out))
    [temp] = list(out.iterdir())
    assert temp.name.startswith(".ml-") and temp.is_dir()
    assert all(text in folder_bytes(temp) for text in ERASED_TEXT)
    assert stale_temp_files(warehouse["trail"], []) == [temp]
    assert remove_stale_temp_files([temp], apply=True) == {TEMP_FILES: 1}
    assert list(out.iterdir()) == []


def test_rewrite_leftovers_are_stale_in_every_folder_veil_rewrites(warehouse, snapshot):
    extra = warehouse["root"] / "warehouse-dir"
    extra.mkdir()
    leftovers = [extra / ".warehouse.duckdb.rewrite", extra / ".warehouse.duckdb.rewrite.wal",
                 snapshot / ".ml__users.parquet.rewrite"]
    for path in leftovers:
        path.write_bytes(b"dev-51-Kq8vXz")
    (extra / "warehouse.duckdb").write_bytes(b"not a leftover")
    assert stale_temp_files(warehouse["trail"], [extra]) == sorted(leftovers)
    assert stale_temp_files(warehouse["trail"], []) == [snapshot / ".ml__users.parquet.rewrite"]
    assert remove_stale_temp_files(stale_temp_files(warehouse["trail"], [extra]), apply=True) == {TEMP_FILES: 3}
    assert [p.name for p in extra.iterdir()] == ["warehouse.duckdb"]


def test_the_temp_files_of_a_run_still_going_are_left_alone(warehouse, tmp_path):
    trail = warehouse["trail"]
    mine, dead, ended = (tmp_path / f".{name}.tmp" for name in ("mine", "dead", "ended"))
    for path in (mine, dead, ended):
        path.write_text("rows")
    trail.append("publish", system=str(tmp_path / "mine"), status="started", detail=started_detail([str(mine)]))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    trail.append("publish", system=str(tmp_path / "dead"), status="started",
                 detail={**started_detail([str(dead)]), "pid": int(gone.stdout)})
    run = started_detail([str(ended)])
    trail.append_many([{"kind": "publish", "system": str(tmp_path / "ended"), "status": "started", "detail": run},
                       {"kind": "publish", "system": str(tmp_path / "ended"), "status": "completed",
                        "detail": {"run": run["run"]}}])
    elsewhere = tmp_path / ".elsewhere.tmp"
    elsewhere.write_text("rows")
    trail.append("access", system=str(tmp_path / "x"), status="started",
                 detail={**started_detail([str(elsewhere)]), "host": socket.gethostname() + "-not"})
    assert stale_temp_files(trail, []) == sorted([dead, ended, elsewhere])    # this process still runs: not mine


def test_access_temp_pattern_matches_what_write_private_file_makes():
    import fnmatch

    pattern = temp_pattern("/p/access/<subject>-20261101T093000Z.json")
    assert fnmatch.fnmatch("/p/access/.424242-20261101T093000Z.json.k2j3h4.tmp", pattern)


def test_docstring_examples():
    for module in (veil.erasure.files, veil.snapshot.erase):
        assert doctest.testmod(module).failed == 0
