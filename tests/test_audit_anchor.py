"""The audit trail's MAC chain and anchors: rewriting, truncating or removing the trail is caught."""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from veil.audit import AuditTrail
from veil.cli import main
from veil.errors import KeyConfigError
from veil.project import Project


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project with a development keyring and an audit trail of 4 records."""
    monkeypatch.chdir(tmp_path)
    assert invoke("keys", "init", "--project-dir", str(tmp_path)).exit_code == 0
    trail = Project.load(tmp_path).trail()
    for number in range(1, 5):
        trail.append("erasure.step", request_id=str(number), system="raw.users", method="delete", rows=number,
                     status="completed", detail={"n": number})
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def verify(project: Path, *args: str):
    return invoke("audit", "verify", "--project-dir", str(project), *args)


def make_anchor(project: Path) -> Path:
    path = project / "anchors" / "head.json"
    result = invoke("audit", "anchor", "--project-dir", str(project), "--output", str(path))
    assert result.exit_code == 0, result.output
    return path


def trail_file(project: Path) -> Path:
    return project / ".veil" / "audit.duckdb"


def rows(project: Path) -> list[dict]:
    with duckdb.connect(str(trail_file(project))) as con:
        cursor = con.execute("SELECT * FROM records ORDER BY seq")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def rewrite(project: Path, records: list[dict], *, start: int = 1, unkeyed: bool = False) -> None:
    """Replace the trail's records: kept as they are before record `start`, from it renumbered and
    re-chained with plain SHA-256 (what needs no key)."""
    previous = "0" * 64
    chained = []
    for seq, record in enumerate(records, start=1):
        if seq < start:
            chained.append(record)
            previous = record["hash"]
            continue
        record = {**record, "seq": seq, "prev_hash": previous}
        if unkeyed:   # pass them off as records of an older veil: no MAC, no newer fields
            record.update({k: None for k in ("actor", "os_user", "host", "trail", "key_id") if k in record})
        body = {k: v for k, v in record.items() if k != "hash" and not (unkeyed and v is None and k in (
            "actor", "os_user", "host", "trail", "key_id"))}
        record["hash"] = previous = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
        chained.append(record)
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("DELETE FROM records")
        for record in chained:
            names = list(record)
            con.execute(f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                        [record[n] for n in names])


def test_an_intact_trail_verifies_and_names_its_key(project):
    result = verify(project)
    assert result.exit_code == 0, result.output
    assert "4 records, chain intact" in result.output and "audit:v1" in result.output


def test_dropping_a_middle_record_and_rechaining_with_sha256_fails(project):
    records = rows(project)
    rewrite(project, records[:1] + records[2:], start=2)
    result = verify(project)
    assert result.exit_code == 1 and "record 2" in result.output, result.output


def test_rechained_records_passed_off_as_unkeyed_fail(project):
    records = rows(project)
    rewrite(project, records[:1] + records[2:], start=2, unkeyed=True)
    result = verify(project)
    assert result.exit_code == 1 and "record 2" in result.output and "carries no MAC" in result.output, result.output
    rewrite(project, records[:1] + records[2:], unkeyed=True)          # all of them
    result = verify(project)
    assert result.exit_code == 1 and "records 1-3 carry no MAC" in result.output, result.output


def test_editing_a_field_and_rechaining_fails(project):
    records = rows(project)
    records[1]["rows"] = 0                                    # "nothing was erased"
    rewrite(project, records, start=2)
    result = verify(project)
    assert result.exit_code == 1 and "record 2" in result.output and "MAC" in result.output, result.output


def test_a_naive_edit_fails(project):
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("UPDATE records SET status = 'skipped' WHERE seq = 3")
    result = verify(project)
    assert result.exit_code == 1 and "record 3" in result.output, result.output


def test_a_record_claiming_another_key_fails(project):
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("UPDATE records SET key_id = 'hmac:v1' WHERE seq = 4")
    result = verify(project)
    assert result.exit_code == 1 and "not an audit key" in result.output, result.output


def test_anchor_then_more_records_still_verifies(project):
    anchor = make_anchor(project)
    document = json.loads(anchor.read_text())
    assert set(document) == {"format", "trail", "sequence", "head_mac", "key_id", "time", "anchor_mac"}
    assert document["trail"] == ".veil/audit.duckdb" and document["sequence"] == 4
    assert document["head_mac"] == rows(project)[-1]["hash"] and document["key_id"] == "audit:v1"
    Project.load(project).trail().append("publish", system="published/a.duckdb", status="started")
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 0, result.output
    assert "5 records, chain intact" in result.output and "matches the anchor of record 4" in result.output


def test_anchor_prints_to_stdout_without_output(project):
    result = invoke("audit", "anchor", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sequence"] == 4


def test_truncating_the_tail_fails_against_the_anchor(project):
    anchor = make_anchor(project)
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("DELETE FROM records WHERE seq >= 3")
    assert verify(project).exit_code == 0                     # a shorter chain is a valid chain...
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "truncated" in result.output, result.output   # ...the anchor knows better


def test_truncating_and_appending_again_fails_against_the_anchor(project):
    anchor = make_anchor(project)
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("DELETE FROM records WHERE seq = 4")
    trail = Project.load(project).trail()
    trail.append("publish", system="published/a.duckdb", status="started")     # a keyholder's new record 4
    trail.append("publish", system="published/a.duckdb", status="completed")
    assert verify(project).exit_code == 0
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "record 4 is not the one anchored" in result.output, result.output


def test_a_deleted_trail_fails(project):
    anchor = make_anchor(project)
    trail_file(project).unlink()
    result = verify(project)
    assert result.exit_code == 1 and f"no audit trail at {trail_file(project)}" in result.output
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "anchor says it held 4 records" in result.output, result.output
    assert not trail_file(project).exists()                    # verifying creates nothing


def test_an_empty_trail_fails(project):
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("DELETE FROM records")
    result = verify(project)
    assert result.exit_code == 1 and "holds no records" in result.output, result.output


@pytest.mark.parametrize("field, value", [("sequence", 2), ("head_mac", "ab" * 32), ("time", "2020-01-01T00:00:00+00:00"),
                                          ("trail", "other.duckdb")])
def test_a_forged_anchor_fails(project, field, value):
    anchor = make_anchor(project)
    document = json.loads(anchor.read_text())
    anchor.write_text(json.dumps({**document, field: value}))
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "not genuine" in result.output, result.output


def test_an_anchor_made_without_the_key_fails(project):
    anchor = make_anchor(project)
    with duckdb.connect(str(trail_file(project))) as con:
        con.execute("DELETE FROM records WHERE seq >= 3")
    records = rows(project)
    document = json.loads(anchor.read_text())
    forged = {**document, "sequence": 2, "head_mac": records[-1]["hash"],
              "anchor_mac": hashlib.sha256(b"a guess").hexdigest()}
    anchor.write_text(json.dumps(forged))
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "not genuine" in result.output, result.output


def test_an_anchor_of_another_trail_fails(project, monkeypatch):
    anchor = make_anchor(project)
    monkeypatch.setenv("VEIL_AUDIT_DB", "elsewhere.duckdb")   # a fresh trail the caller chose
    Project.load(project).trail().append("publish", system="published/a.duckdb", status="started")
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 1 and "not elsewhere.duckdb" in result.output, result.output
    assert "note: the audit trail is" in result.output and "(VEIL_AUDIT_DB)" in result.output


def test_a_malformed_anchor_is_a_usage_error(project):
    anchor = project / "anchor.json"
    anchor.write_text("{\"sequence\": 4}")
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 2 and "is not a veil audit anchor" in result.output, result.output


def test_without_the_keyring_verify_cannot_vouch_for_anything(project):
    (project / ".veil" / "keyring.json").rename(project / "keyring-elsewhere.json")
    result = verify(project)
    assert result.exit_code == 2 and "without the keyring" in result.output, result.output
    assert "intact" not in result.output
    assert invoke("audit", "anchor", "--project-dir", str(project)).exit_code == 2


def test_another_keyring_cannot_verify_the_trail(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    assert invoke("keys", "init", "--project-dir", str(other)).exit_code == 0
    for name in ("keyring.json", "master.key"):
        (project / ".veil" / name).unlink()
        (other / ".veil" / name).rename(project / ".veil" / name)
    result = verify(project)
    assert result.exit_code == 1 and "record 1" in result.output, result.output


def test_an_unkeyed_writer_cannot_add_to_a_keyed_trail(project):
    trail = AuditTrail(trail_file(project), keyring=None)     # a process without the keyring
    with pytest.raises(KeyConfigError, match="no keyring is set"):
        trail.append("publish", system="x", status="started")
    assert len(rows(project)) == 4


def test_records_show_the_claimed_actor_beside_the_os_user(project, monkeypatch):
    monkeypatch.setenv("VEIL_ACTOR", "ceo@example.test")
    record = Project.load(project).trail().append("reveal", system="payments.card_number", status="revealed")
    assert record.actor == "ceo@example.test"
    assert record.os_user == getpass.getuser() and record.host == socket.gethostname()
    assert record.trail == ".veil/audit.duckdb" and record.key_id == "audit:v1"
    assert verify(project).exit_code == 0


def test_a_rotated_audit_key_keeps_old_records_verifiable(project):
    assert invoke("keys", "rotate", "audit", "--project-dir", str(project)).exit_code == 0
    anchor = make_anchor(project)
    assert json.loads(anchor.read_text())["key_id"] == "audit:v2"
    assert Project.load(project).trail().append("publish", system="x", status="started").key_id == "audit:v2"
    result = verify(project, "--anchor", str(anchor))
    assert result.exit_code == 0 and "audit:v1, audit:v2" in result.output, result.output


def test_a_keyring_without_an_audit_key_says_how_to_add_one(project):
    ring_file = project / ".veil" / "keyring.json"
    document = json.loads(ring_file.read_text())
    del document["keys"]["audit"]                             # a keyring made before the audit key
    ring_file.write_text(json.dumps(document))
    with pytest.raises(KeyConfigError, match="veil keys rotate audit"):
        Project.load(project).trail().append("publish", system="x", status="started")
    result = verify(project)
    assert result.exit_code == 2 and "cannot verify" in result.output, result.output


def legacy_trail(path: Path, count: int) -> None:
    """A trail as veil wrote it before the keyed chain: 12 columns, a SHA-256 chain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE records (seq BIGINT PRIMARY KEY, recorded_at VARCHAR NOT NULL, kind VARCHAR NOT "
                    "NULL, request_id VARCHAR, system VARCHAR, method VARCHAR, rows BIGINT, status VARCHAR, detail "
                    "VARCHAR NOT NULL, tool_version VARCHAR NOT NULL, prev_hash VARCHAR NOT NULL, hash VARCHAR NOT "
                    "NULL)")
        previous = "0" * 64
        for seq in range(1, count + 1):
            body = {"seq": seq, "recorded_at": "2026-01-01T00:00:00+00:00", "kind": "erasure.step",
                    "request_id": str(seq), "system": "raw.users", "method": "delete", "rows": 1,
                    "status": "completed", "detail": "{}", "tool_version": "0.1", "prev_hash": previous}
            previous = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
            con.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*body.values(), previous])
    path.chmod(0o600)


def test_a_trail_of_an_older_veil_fails_until_sealed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("keys", "init", "--project-dir", str(tmp_path)).exit_code == 0
    legacy_trail(trail_file(tmp_path), 3)
    result = verify(tmp_path)
    assert result.exit_code == 1 and "records 1-3 carry no MAC" in result.output, result.output
    sealed = invoke("audit", "seal", "--project-dir", str(tmp_path))
    assert sealed.exit_code == 0 and "sealed records 1-3 with record 4" in sealed.output, sealed.output
    result = verify(tmp_path)
    assert result.exit_code == 0 and "4 records, chain intact" in result.output, result.output
    assert "records 1-3 were written without a MAC" in result.output
    again = invoke("audit", "seal", "--project-dir", str(tmp_path))
    assert again.exit_code == 0 and "nothing to seal" in again.output
    # the seal commits to the old records: rewriting one of them (and its SHA-256 chain) now fails
    records = rows(tmp_path)
    records[0]["status"] = "skipped"
    rewrite(tmp_path, records[:3], unkeyed=True)
    with duckdb.connect(str(trail_file(tmp_path))) as con:
        names = list(records[3])
        con.execute(f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                    [records[3][n] for n in names])
    result = verify(tmp_path)
    assert result.exit_code == 1 and "record 4" in result.output, result.output


def test_a_broken_old_chain_is_not_sealed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("keys", "init", "--project-dir", str(tmp_path)).exit_code == 0
    legacy_trail(trail_file(tmp_path), 3)
    with duckdb.connect(str(trail_file(tmp_path))) as con:
        con.execute("DELETE FROM records WHERE seq = 2")
    result = invoke("audit", "seal", "--project-dir", str(tmp_path))
    assert result.exit_code == 1 and "record 2" in result.output, result.output


def test_without_any_keys_records_are_unkeyed_and_do_not_verify(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = Project.load(tmp_path).trail().append("publish", system="x", status="started")
    assert record.key_id is None
    assert verify(tmp_path).exit_code == 2                      # nothing to check a MAC with
    assert invoke("keys", "init", "--project-dir", str(tmp_path)).exit_code == 0
    result = verify(tmp_path)
    assert result.exit_code == 1 and "records 1-1 carry no MAC" in result.output, result.output
    assert Project.load(tmp_path).trail().append("publish", system="x", status="completed").key_id == "audit:v1"
    assert verify(tmp_path).exit_code == 0                      # the MACed record seals the one before
