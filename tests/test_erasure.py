"""`veil erase` on small data: every system, physical deletion, holds, crashes, backups, the audit trail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from helpers import FIXTURES, REPO, TEST_KEY_HEX
from veil.audit.trail import AuditTrail
from veil.cli import main
from veil.duckdb_functions import register_functions
from veil.erasure.requests import STEP, completed_ids, confirmed_steps
from veil.vault import close_shared_vaults

ERASED = 3                                        # tiny_raw.sql: user 3 asked for erasure
ERASED_PII = ["Erased Person", "erase.me@example.org", "+1-202-555-0103", "345-67-8901", "5500000000000004"]
KEPT_PII = ["Ada Example", "+1-202-555-0101"]


@pytest.fixture()
def project(tmp_path, monkeypatch):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    env = {"VEIL_KEY": TEST_KEY_HEX, "VEIL_VAULT": str(tmp_path / "vault.duckdb"),
           "VEIL_AUDIT_DB": str(tmp_path / "audit.duckdb"), "VEIL_WAREHOUSE": str(tmp_path / "wh.duckdb")}
    for key in ("VEIL_KEYRING", "VEIL_KEY_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    with duckdb.connect(env["VEIL_WAREHOUSE"]) as con:
        con.execute((FIXTURES / "tiny_raw.sql").read_text())
        con.execute("CREATE TABLE main.dim_users AS SELECT user_id, email FROM raw.users")   # a downstream copy
        register_functions(con, bytes.fromhex(TEST_KEY_HEX), env)
        con.execute("CREATE TABLE main.analyst__users AS SELECT user_id, name FROM raw.users")
        con.execute("CREATE TABLE main.ml__payments AS SELECT payment_id, user_id, "
                    "veil_mask_tokenize(card_number, 4, 'invalid', CAST(user_id AS VARCHAR)) AS card_number FROM raw.payments")
    close_shared_vaults()
    published = tmp_path / "published" / "analyst.duckdb"
    published.parent.mkdir()
    with duckdb.connect(str(published)) as con:
        con.execute(f"ATTACH '{env['VEIL_WAREHOUSE']}' AS w (READ_ONLY)")
        con.execute("CREATE TABLE analyst__users AS SELECT user_id, name FROM w.raw.users")
    AuditTrail(Path(env["VEIL_AUDIT_DB"])).append("publish", system=str(published), status="created")
    write_manifest(tmp_path, DOWNSTREAM)
    return tmp_path


# the tables dbt built downstream of the raw sources, as a dbt manifest describes them
DOWNSTREAM = {
    "dim_users": "SELECT u.user_id, u.email FROM raw.users AS u",
    "ml__payments": "SELECT p.payment_id, p.user_id, veil_mask_tokenize(p.card_number, 4, 'invalid', "
                    "CAST(p.user_id AS TEXT)) AS card_number FROM raw.payments AS p",
    "analyst__users": "SELECT u.user_id, u.name FROM raw.users AS u",
}
SOURCES = ("users", "events", "payments", "consent_events", "deletion_requests")


def write_manifest(root: Path, models: dict[str, str]) -> None:
    """target/manifest.json as `dbt build` writes it, for the tables the fixture made."""
    sources = {f"source.p.raw.{name}": {"unique_id": f"source.p.raw.{name}", "resource_type": "source",
                                        "source_name": "raw", "name": name, "schema": "raw", "identifier": name}
               for name in SOURCES}
    nodes = {f"model.p.{name}": {"unique_id": f"model.p.{name}", "resource_type": "model", "name": name,
                                 "schema": "main", "alias": name, "config": {"materialized": "table"},
                                 "compiled_code": sql, "depends_on": {"nodes": sorted(sources)}}
             for name, sql in models.items()}
    (root / "target").mkdir(exist_ok=True)
    (root / "target/manifest.json").write_text(json.dumps({"nodes": nodes, "sources": sources}))


def erase(*args):
    return CliRunner().invoke(main, ["erase", *args])


def rows(path, sql):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def steps(project):
    return confirmed_steps(AuditTrail(project / "audit.duckdb"))


def test_erase_reaches_every_system(project):
    result = erase()
    assert result.exit_code == 0, result.output
    wh = project / "wh.duckdb"
    assert rows(wh, "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM raw.events WHERE user_id = 3") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM main.dim_users WHERE user_id = 3") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM main.ml__payments WHERE user_id = 3") == [(0,)]
    # payments are kept for accounting: anonymized, not deleted
    anonymized = rows(wh, "SELECT user_id, card_number, amount FROM raw.payments WHERE payment_id = 101")
    assert anonymized[0][0] < 0 and anonymized[0][1] is None and float(anonymized[0][2]) == 99.0
    assert rows(project / "published/analyst.duckdb", "SELECT count(*) FROM analyst__users WHERE user_id = 3") == [(0,)]
    assert rows(project / "vault.duckdb", "SELECT count(*) FROM tokens") == [(1,)]      # only user 1's card
    assert rows(wh, "SELECT count(*) FROM raw.deletion_requests WHERE user_id = 3") == [(1,)]   # the registry stays
    assert rows(wh, "SELECT count(*) FROM raw.users") == [(4,)]
    assert "1 requests completed" in result.output
    systems = {system for _, system in steps(project)}
    assert {"raw.users", "raw.events", "raw.payments", "raw.consent_events", "main.dim_users", "main.ml__payments",
            str(project / "vault.duckdb"), str(project / "published/analyst.duckdb")} <= systems


def test_no_byte_of_the_erased_subject_remains_in_any_file(project):
    files = [project / "wh.duckdb", project / "published/analyst.duckdb"]
    before = b"".join(p.read_bytes() for p in files)
    findable = [v for v in ERASED_PII if v.encode() in before]
    assert len(findable) >= 3, "the control must find the plaintext before erasure"
    assert erase().exit_code == 0
    after = b"".join(p.read_bytes() for p in files + [project / "vault.duckdb"])
    after += b"".join(p.read_bytes() for p in project.glob("*.wal"))
    for value in findable:
        assert value.encode() not in after, value
    assert any(v.encode() in after for v in KEPT_PII)   # the others' data is still there


def test_second_run_is_a_no_op_and_the_chain_verifies(project):
    assert erase().exit_code == 0
    first = len(AuditTrail(project / "audit.duckdb").records())
    again = erase()
    assert "0 requests pending" in again.output
    trail = AuditTrail(project / "audit.duckdb")
    assert len(trail.records()) == first and trail.verify() == first


def test_dry_run_changes_nothing(project):
    before = (project / "wh.duckdb").read_bytes()
    result = erase("--dry-run")
    assert result.exit_code == 0 and "would erase" in result.output
    assert (project / "wh.duckdb").read_bytes() == before and steps(project) == {}


def test_subject_on_legal_hold_is_kept_and_the_request_stays_open(project):
    veil_yml = project / "policies/veil.yml"
    veil_yml.write_text(veil_yml.read_text().replace("subjects: {}", 'subjects: {"3": "litigation hold, case 17"}'))
    result = erase()
    assert "1 on legal hold" in result.output
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(1,)]
    report = CliRunner().invoke(main, ["audit", "report", "--format", "json"])
    assert '"status": "on_hold"' in report.output and "litigation hold, case 17" in report.output


def test_table_on_legal_hold_is_untouched_and_requests_stay_open(project):
    veil_yml = project / "policies/veil.yml"
    veil_yml.write_text(veil_yml.read_text().replace("tables: {}", 'tables: {payments: "tax audit 2026"}'))
    assert erase().exit_code == 0
    wh = project / "wh.duckdb"
    assert rows(wh, "SELECT user_id FROM raw.payments WHERE payment_id = 101") == [(3,)]
    assert rows(wh, "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(0,)]
    report = CliRunner().invoke(main, ["audit", "report", "--format", "json"]).output
    assert '"status": "on_hold"' in report and "tax audit 2026" in report


def test_reapply_after_restoring_a_backup(project):
    backup = project / "backup.duckdb"
    shutil.copy(project / "wh.duckdb", backup)
    assert erase().exit_code == 0
    shutil.copy(backup, project / "wh.duckdb")                               # restore the old copy
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(1,)]
    assert "0 requests pending" in erase().output                           # the registry says: done
    result = erase("--reapply")
    assert result.exit_code == 0 and "1 requests to re-apply" in result.output
    for table in ("raw.users", "raw.events", "main.dim_users"):
        assert rows(project / "wh.duckdb", f"SELECT count(*) FROM {table} WHERE user_id = 3") == [(0,)]
    data = (project / "wh.duckdb").read_bytes()
    assert b"erase.me@example.org" not in data


CRASH_POINTS = ["after-erase:raw.users", "after-confirm:raw.events", "after-erase:main.dim_users",
                "before-rewrite", "after-rewrite"]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_any_point_a_rerun_completes_once(project, point):
    env = {**os.environ, "VEIL_ERASE_CRASH_AT": point}
    killed = subprocess.run([str(Path(sys.executable).parent / "veil"), "erase"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    trail = AuditTrail(project / "audit.duckdb")
    assert not completed_ids(trail)                                         # not complete before every system
    result = erase()
    assert result.exit_code == 0, result.output
    assert "1 requests completed" in result.output
    trail = AuditTrail(project / "audit.duckdb")
    trail.verify()
    confirmations = [(rid, r.system) for r in trail.records(kind=STEP, status="completed")
                     for rid in r.details["requests"]]
    assert len(confirmations) == len(set(confirmations))                  # nothing erased twice in the audit
    assert confirmed_steps(trail)[("1", "raw.users")] == 1                 # the rows counted when it started
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(0,)]
    assert b"erase.me@example.org" not in (project / "wh.duckdb").read_bytes()


def test_audit_verify_names_the_first_changed_or_removed_record(project):
    assert erase().exit_code == 0
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
    with duckdb.connect(str(project / "audit.duckdb")) as con:
        con.execute("UPDATE records SET rows = 0 WHERE seq = 5")
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1 and "record 5" in result.output
    with duckdb.connect(str(project / "audit.duckdb")) as con:
        con.execute("DELETE FROM records WHERE seq = 3")
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1 and "record 3" in result.output


def test_report_and_sla(project):
    sla = CliRunner().invoke(main, ["audit", "sla"])
    assert sla.exit_code == 1 and "OVERDUE" in sla.output                  # requested 2026-10-10, 30 days
    assert erase().exit_code == 0
    assert CliRunner().invoke(main, ["audit", "sla"]).exit_code == 0
    report = CliRunner().invoke(main, ["audit", "report", "--request", "1"])
    assert report.exit_code == 0
    assert "## Request 1: completed" in report.output and "| raw.users | policy table | delete | 1 |" in report.output
    assert CliRunner().invoke(main, ["audit", "report", "--request", "99"]).exit_code == 2


def test_seeds_are_erased_in_the_table_and_in_the_csv_file(project):
    import json

    (project / "seeds").mkdir()
    seed = project / "seeds" / "vip_users.csv"
    seed.write_text("user_id,tier\n1,gold\n3,platinum\n5,silver\n")
    with duckdb.connect(str(project / "wh.duckdb")) as con:
        con.execute(f"CREATE TABLE main.vip_users AS SELECT * FROM read_csv('{seed}')")
    manifest = json.loads((project / "target/manifest.json").read_text())
    seed_node = {"unique_id": "seed.p.vip_users", "resource_type": "seed", "name": "vip_users", "alias": "vip_users",
                 "schema": "main", "original_file_path": "seeds/vip_users.csv", "config": {"materialized": "seed"}}
    manifest["nodes"]["seed.p.vip_users"] = seed_node
    (project / "target/manifest.json").write_text(json.dumps(manifest))
    undeclared = erase()   # a seed is a root: nothing says whose ids `user_id` holds, so nothing is guessed
    assert undeclared.exit_code == 1 and "unresolved      main.vip_users" in undeclared.output, undeclared.output
    assert seed.read_bytes() == b"user_id,tier\n1,gold\n3,platinum\n5,silver\n"
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM main.vip_users WHERE user_id = 3") == [(1,)]
    seed_node["config"]["meta"] = {"veil": {"subject": "user_id"}}          # its yml: meta: {veil: {subject: ...}}
    (project / "target/manifest.json").write_text(json.dumps(manifest))
    result = erase()
    assert result.exit_code == 0, result.output
    assert "dbt seed        main.vip_users: erased 1 rows" in result.output
    assert "seed file       seeds/vip_users.csv: erased 1 rows" in result.output
    assert seed.read_bytes() == b"user_id,tier\n1,gold\n5,silver\n"
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM main.vip_users WHERE user_id = 3") == [(0,)]


def test_a_second_erase_at_the_same_time_is_refused(project):
    import fcntl

    (project / "audit.duckdb.erase.lock").touch()
    with open(project / "audit.duckdb.erase.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = erase()
    assert result.exit_code == 2 and "another `veil erase` is running" in result.output
    assert erase().exit_code == 0                                        # released: the next run goes


# -- issue 9: state, vault binding, canonical ids, files veil wrote


def test_the_vault_forgets_a_subject_whose_rows_were_already_deleted_upstream(project):
    from veil.keyring import keyring_from_key
    from veil.vault import Vault

    token = rows(project / "wh.duckdb", "SELECT card_number FROM main.ml__payments WHERE user_id = 3")[0][0]
    vault = Vault(project / "vault.duckdb", keyring_from_key(bytes.fromhex(TEST_KEY_HEX)))
    assert vault.detokenize(token) == "5500000000000004"       # the control: the token reveals the card
    vault.close()
    with duckdb.connect(str(project / "wh.duckdb")) as con:     # deleted upstream: no raw value left to match
        con.execute("DELETE FROM raw.payments WHERE user_id = 3")
        con.execute("DELETE FROM main.ml__payments WHERE user_id = 3")
    result = erase()
    assert result.exit_code == 0, result.output
    vault = Vault(project / "vault.duckdb", keyring_from_key(bytes.fromhex(TEST_KEY_HEX)))
    with pytest.raises(Exception, match="not in the vault"):
        vault.detokenize(token)
    assert vault.count() == 1                                   # user 1's card is still there
    vault.close()


def test_erase_from_another_directory_uses_the_projects_state(project, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for name in ("VEIL_AUDIT_DB", "VEIL_VAULT"):
        monkeypatch.setenv(name, os.environ[name].replace(str(project), "."))   # relative: to the project
    monkeypatch.chdir(elsewhere)
    result = erase("--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert "1 requests completed" in result.output
    assert list(elsewhere.iterdir()) == []                      # nothing written where the command ran
    assert AuditTrail(project / "audit.duckdb").verify() > 0
    verify = CliRunner().invoke(main, ["audit", "verify", "--project-dir", str(project)])
    assert verify.exit_code == 0 and "chain intact" in verify.output
    empty = CliRunner().invoke(main, ["audit", "verify", "--project-dir", str(elsewhere)])
    assert empty.exit_code == 1 and "no audit trail" in empty.output and list(elsewhere.iterdir()) == []


def test_a_badly_spelled_registry_id_is_refused_not_matched_to_a_held_subject(project):
    veil_yml = project / "policies/veil.yml"
    veil_yml.write_text(veil_yml.read_text().replace("subjects: {}", 'subjects: {"1": "litigation hold"}'))
    with duckdb.connect(str(project / "wh.duckdb")) as con:
        con.execute("ALTER TABLE raw.deletion_requests ALTER user_id TYPE VARCHAR")
        con.execute("INSERT INTO raw.deletion_requests VALUES (7, ' 1', TIMESTAMP '2026-10-11', 'GDPR'), "
                    "(8, '01', TIMESTAMP '2026-10-11', 'GDPR')")
    result = erase()
    assert result.exit_code == 1, result.output
    assert "2 refused" in result.output and "' 1' is not a canonical integer id" in result.output
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM raw.users WHERE user_id = 1") == [(1,)]
    assert rows(project / "wh.duckdb", "SELECT count(*) FROM raw.users WHERE user_id = 3") == [(0,)]
    assert "1 requests completed" in result.output                # the well-formed request still goes


def test_a_hold_that_is_not_a_canonical_id_is_a_policy_error(project):
    veil_yml = project / "policies/veil.yml"
    veil_yml.write_text(veil_yml.read_text().replace("subjects: {}", 'subjects: {"03": "hold"}'))
    before = (project / "wh.duckdb").read_bytes()
    result = erase()
    assert result.exit_code == 2 and "policies/veil.yml:" in result.output and "'03'" in result.output
    assert "Traceback" not in result.output and (project / "wh.duckdb").read_bytes() == before


def test_access_exports_and_a_killed_publish_are_erased_too(project):
    export = project / "access-3.json"
    assert CliRunner().invoke(main, ["access", "--subject", "3", "--out", str(export)]).exit_code == 0
    assert b"erase.me@example.org" in export.read_bytes()               # the control: the export holds it
    leftover = project / "published" / ".analyst.duckdb.999999.tmp"     # what a publish killed with -9 leaves
    with duckdb.connect(str(leftover)) as con:
        con.execute("CREATE TABLE analyst__users AS SELECT 3 AS user_id, 'Erased Person' AS name")
    trail = AuditTrail(project / "audit.duckdb")
    trail.append("publish", system=str(project / "published/analyst.duckdb"), status="started",
                 detail={"run": "r", "pid": 999999, "host": "elsewhere", "temp_files": [str(leftover)]})
    result = erase()
    assert result.exit_code == 0, result.output
    assert not export.exists() and not leftover.exists(), result.output
    assert "access export" in result.output and "temp file" in result.output


def test_dry_run_writes_no_lock_and_no_trail(project):
    (project / "audit.duckdb").unlink(missing_ok=True)
    before = {p.name for p in project.iterdir()}
    assert erase("--dry-run").exit_code == 0
    assert {p.name for p in project.iterdir()} == before


def test_a_busy_warehouse_is_a_message_not_a_traceback(project):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(project / "wh.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for command in (["erase"], ["retention"], ["summary"], ["audit", "report"]):
            result = CliRunner().invoke(main, command)
            assert result.exit_code == 2, (command, result.output)
            assert "warehouse busy" in result.output and "Traceback" not in result.output, result.output
    finally:
        holder.kill()


def test_a_copied_project_erases_its_own_files_never_the_originals(project, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VEIL_AUDIT_DB", ".veil/audit.duckdb")              # the project's own trail
    export = project / "access" / "3.json"
    assert CliRunner().invoke(main, ["access", "--subject", "3", "--out", str(export)]).exit_code == 0
    copy = tmp_path_factory.mktemp("copy") / "project"
    shutil.copytree(project, copy)
    for name, file in (("VEIL_WAREHOUSE", "wh.duckdb"), ("VEIL_VAULT", "vault.duckdb")):
        monkeypatch.setenv(name, str(copy / file))
    result = erase("--project-dir", str(copy))
    assert result.exit_code == 0, result.output
    assert not (copy / "access" / "3.json").exists()                       # the copy's own export went
    assert export.exists()                                                 # the original's is not the copy's


def test_a_seed_csv_keeps_its_delimiter_bom_and_line_ends(project):
    (project / "seeds").mkdir()
    seed = project / "seeds" / "kunden.csv"
    seed.write_bytes(b"\xef\xbb\xbfuser_id;tier\r\n1;gold\r\n3;platinum\r\n5;silver\r\n")
    with duckdb.connect(str(project / "wh.duckdb")) as con:
        con.execute(f"CREATE TABLE main.kunden AS SELECT * FROM read_csv('{seed}', delim = ';')")
    manifest = json.loads((project / "target/manifest.json").read_text())
    manifest["nodes"]["seed.p.kunden"] = {
        "unique_id": "seed.p.kunden", "resource_type": "seed", "name": "kunden", "alias": "kunden", "schema": "main",
        "original_file_path": "seeds/kunden.csv",
        "config": {"materialized": "seed", "delimiter": ";", "meta": {"veil": {"subject": "user_id"}}}}
    (project / "target/manifest.json").write_text(json.dumps(manifest))
    result = erase()
    assert result.exit_code == 0, result.output
    assert seed.read_bytes() == b"\xef\xbb\xbfuser_id;tier\r\n1;gold\r\n5;silver\r\n"
