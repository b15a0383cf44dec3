"""`veil access`: everything held about one subject, unmasked, audited without the id in clear."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
from datetime import datetime, timedelta

import duckdb
import pytest

from helpers import FIXTURES, REPO
from veil.access import build_access_report, run_access, subject_digest, write_access_report
from veil.access.report import consent_verdict
from veil.audit import AuditTrail
from veil.compile.plan import Action, decide, plan_project
from veil.errors import KeyConfigError
from veil.policy.load import load_policies
from veil.policy.models import ProjectPolicy
from veil.policy.loaded import Policies
from veil.relations import PhysicalRelations

SUBJECT = "424242"
AS_OF = datetime(2026, 11, 1)
OTHERS = ["other.person@example.net", "987-65-4320", "5500000000000004", "opted.out@example.com",
          "opted.in@example.com", "dev-other-00002"]


@pytest.fixture()
def project(tmp_path):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute((FIXTURES / "access" / "raw.sql").read_text(encoding="utf-8"))
    return tmp_path, database


@pytest.fixture()
def env(tmp_path):
    return {"VEIL_AUDIT_DB": str(tmp_path / "audit" / "audit.duckdb")}


def report_for(project, subject):
    project_dir, database = project
    policies = load_policies(project_dir)
    with duckdb.connect(str(database), read_only=True) as con:
        return build_access_report(policies, con, PhysicalRelations.for_project(project_dir, con), subject,
                                   as_of=AS_OF)


def rows_of(report, table):
    return [row["values"] for row in next(t for t in report["tables"] if t["table"] == table)["rows"]]


def audience(report, model):
    return next(a for a in report["audiences"] if a["model"] == model)


def test_every_row_of_the_subject_unmasked_and_nobody_else(project, env):
    out = run_access(project[0], project[1], SUBJECT, "json", None, env, as_of=AS_OF)
    data = out.read_bytes()
    for other in OTHERS:
        assert other.encode() not in data
    report = json.loads(data)
    assert report["subject"] == SUBJECT and report["tool_version"]
    assert rows_of(report, "users") == [{
        "user_id": 424242, "name": "Ada Example", "email": "ada.subject@example.org", "phone": "+1-202-555-0101",
        "ssn": "123-45-6789", "birth_date": "1985-03-14", "zip": "02139", "gender": "female", "country": "US",
        "created_at": "2025-01-02T10:00:00"}]
    assert [(r["event_id"], r["ip_address"], r["amount"]) for r in rows_of(report, "events")] == [
        (10, "2001:db8::1", None), (11, "192.0.2.1", 12.5)]            # oldest first; 12.50 is a number
    assert rows_of(report, "payments") == [{"payment_id": 100, "user_id": 424242, "card_number": "4111111111111111",
                                            "amount": 12.5, "currency": "USD", "paid_at": "2026-10-02T09:00:00"}]
    users = next(t for t in report["tables"] if t["table"] == "users")
    assert users["physical_relation"] == '"raw"."users"' and users["relation"] == "source('raw', 'users')"
    assert users["policy"] == "policies/tables/users.yml"
    assert {t["table"]: t["on_erasure"] for t in report["tables"]} == {
        "events": "delete", "payments": "anonymize", "users": "delete"}


def test_subject_is_matched_exactly_not_as_a_prefix(project):
    report = report_for(project, "4242")
    assert [r["email"] for r in rows_of(report, "users")] == ["other.person@example.net"]
    assert [r["event_id"] for r in rows_of(report, "events")] == [12]


def test_consent_history_oldest_first_and_current_state(project):
    consent = report_for(project, SUBJECT)["consent"]
    assert consent["relation"] == "source('raw', 'consent_events')"
    assert [(d["purpose"], d["granted"], d["recorded_at"]) for d in consent["history"]] == [
        ("ml_training", True, "2026-01-01T00:00:00"),
        ("ml_training", False, "2026-02-01T00:00:00"),
        ("ml_training", True, "2026-03-01T00:00:00")]
    assert consent["current"] == [{"purpose": "ml_training", "granted": True, "recorded_at": "2026-03-01T00:00:00"}]


def test_a_tie_denies_and_null_granted_denies(project):
    current = report_for(project, "515151")["consent"]["current"]
    assert {d["purpose"]: d["granted"] for d in current} == {
        "analytics": False, "marketing": False, "ml_training": False}


def test_audience_inclusion_follows_erasure_and_consent_modes(project):
    erased = report_for(project, SUBJECT)
    analyst, ml = audience(erased, "analyst__users"), audience(erased, "ml__users")
    assert analyst["consent"] == {"mode": "opt_out", "decided_by": None, "granted": None, "allows": True}
    assert ml["consent"] == {"mode": "opt_in", "decided_by": "ml_training", "granted": True, "allows": True}
    assert all(a["erased"] and not a["included"] and a["rows_in_model"] == 0 for a in erased["audiences"])

    opted_out = report_for(project, "515151")
    assert not audience(opted_out, "analyst__users")["included"]           # opt_out, denied
    assert not audience(opted_out, "ml__users")["included"]                # opt_in, the tie denies
    assert audience(opted_out, "support__users")["included"]              # consent none
    assert audience(opted_out, "support__users")["consent"]["mode"] == "none"

    opted_in = report_for(project, "616161")
    assert audience(opted_in, "analyst__users")["included"]                # opt_out, no decision
    assert audience(opted_in, "ml__users")["included"]                     # opt_in, granted
    assert audience(opted_in, "ml__events")["rows_in_model"] == 1


def test_nearest_purpose_with_a_decision_decides():
    policies = Policies(ProjectPolicy.model_validate({
        "version": 1, "purposes": {"marketing": {"consent": "opt_in"}, "marketing.email": {}},
        "consent": {"relation": "source('raw', 'consent_events')", "subject": "user_id"}}), "veil.yml", {})
    parent_yes = [{"purpose": "marketing", "granted": True}]
    child_no = [*parent_yes, {"purpose": "marketing.email", "granted": False}]
    assert consent_verdict(policies, "marketing.email", parent_yes)["allows"]
    assert consent_verdict(policies, "marketing.email", child_no) == {
        "mode": "opt_in", "decided_by": "marketing.email", "granted": False, "allows": False}
    assert not consent_verdict(policies, "marketing.email", [])["allows"]


def test_column_handling_matches_decide(project):
    report = report_for(project, SUBJECT)
    policies = load_policies(project[0])
    expected_models = {m.name for m in plan_project(policies).models}
    assert {a["model"] for a in report["audiences"]} == expected_models     # the subject is in every table
    for entry in report["audiences"]:
        spec = policies.project.audiences[entry["audience"]]
        table = policies.tables[entry["table"]]
        for column in entry["columns"]:
            reveal = f"{table.name}.{column['column']}" in spec.may_reveal
            decision = decide(table.policy.column(column["column"]), spec.purpose, reveal)
            assert column["reason"] == decision.reason
            assert column["handling"] == {Action.RAW: "raw", Action.DROP: "dropped"}.get(
                decision.action, f"masked with {decision.strategy}")
    handling = {c["column"]: c["handling"] for c in audience(report, "analyst__users")["columns"]}
    assert handling["email"] == "masked with domain_only" and handling["ssn"] == "dropped"
    assert handling["gender"] == "raw"
    card = next(c for c in audience(report, "support__payments")["columns"] if c["column"] == "card_number")
    assert card == {"column": "card_number", "handling": "raw",
                    "reason": "may_reveal grants this audience the original"}


def test_retention_dates_from_a_pinned_clock(project):
    report = report_for(project, SUBJECT)
    events = next(t for t in report["tables"] if t["table"] == "events")
    assert events["retention"] == {"days": 730, "tier": "pseudonymized_events", "columns": {"ip_address": 30}}
    old, recent = (row["retention"] for row in events["rows"])
    assert old == {"leaves_at": "2026-09-15T08:00:00", "past_retention": True, "columns": [
        {"column": "ip_address", "retention_days": 30, "nulled_at": "2024-10-15T08:00:00", "expired": True}]}
    assert recent == {"leaves_at": "2028-10-30T12:00:00", "past_retention": False, "columns": [
        {"column": "ip_address", "retention_days": 30, "nulled_at": "2026-11-30T12:00:00", "expired": False}]}
    payment = next(t for t in report["tables"] if t["table"] == "payments")["rows"][0]["retention"]
    assert payment == {"leaves_at": (datetime(2026, 10, 2, 9) + timedelta(days=2555)).isoformat(),
                       "past_retention": False, "columns": []}
    users = next(t for t in report["tables"] if t["table"] == "users")
    assert users["retention"]["days"] is None and users["rows"][0]["retention"] is None


def test_erasure_status(project):
    assert report_for(project, SUBJECT)["erasure"] == {
        "relation": "source('raw', 'deletion_requests')", "physical_relation": '"raw"."deletion_requests"',
        "requested": True, "requests": [{"requested_at": "2026-10-10T00:00:00", "request_id": 1}]}
    assert report_for(project, "616161")["erasure"]["requested"] is False


def test_file_is_private_and_the_access_audited_without_the_id(project, env):
    project_dir, database = project
    out = run_access(project_dir, database, SUBJECT, "json", None, env, as_of=AS_OF)
    assert out.parent == project_dir / "access" and out.name.startswith(f"{SUBJECT}-") and out.suffix == ".json"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p for p in out.parent.iterdir() if p != out]                 # no temporary file left
    trail = AuditTrail(env["VEIL_AUDIT_DB"])
    started, record = trail.records(kind="access")
    shown = f"{project_dir.resolve()}/access/<subject>-{out.name.removeprefix(SUBJECT + '-')}"
    assert (record.system, record.method, record.status, record.request_id) == (shown, "json", "exported", None)
    assert record.rows == 1 + 2 + 1 + 3 + 1            # user, events, payment, consent decisions, erasure request
    about = {"subject_digest": subject_digest(SUBJECT), "digest": "sha256",
             "file": f"access/<subject>-{out.name.removeprefix(SUBJECT + '-')}"}
    assert record.details == {**about, "run": started.details["run"]}
    assert (started.system, started.status, started.rows) == (shown, "started", None)   # before the file existed
    assert started.details["temp_files"] == [f"{project_dir.resolve()}/access/.*-"
                                             f"{out.name.removeprefix(SUBJECT + '-')}.*.tmp"]
    assert {k: started.details[k] for k in about} == about and started.details["pid"] == os.getpid()
    for audited in (started, record):
        record_text = json.dumps([getattr(audited, f) for f in audited.__dataclass_fields__])
        assert SUBJECT not in record_text and "ada.subject@example.org" not in record_text
    assert [r.key_id for r in trail.records()] == [None, None]   # no keys here: the records carry no MAC,
    with pytest.raises(KeyConfigError, match="without the keyring"):   # so nothing can vouch for them
        trail.verify()


def test_the_subject_is_hidden_in_a_chosen_path_too(project, env, tmp_path):
    out = run_access(project[0], project[1], SUBJECT, "csv", tmp_path / "out" / SUBJECT / f"r{SUBJECT}.csv", env,
                     as_of=AS_OF)
    records = AuditTrail(env["VEIL_AUDIT_DB"]).records(kind="access")
    assert [r.system for r in records] == [f"{tmp_path.resolve()}/out/<subject>/r<subject>.csv"] * 2
    assert all(SUBJECT not in r.detail for r in records) and out.is_file()


def test_csv_is_one_value_per_line_and_loads(project, env, tmp_path):
    out = run_access(project[0], project[1], SUBJECT, "csv", tmp_path / "export" / "subject.csv", env, as_of=AS_OF)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(lines[0]) == ["section", "table", "row", "field", "value"]
    cells = {(line["section"], line["table"], line["row"], line["field"]): line["value"] for line in lines}
    assert cells["report", "", "", "subject"] == SUBJECT
    assert cells["tables", "users", "0", "ssn"] == "123-45-6789"
    assert cells["tables", "payments", "0", "card_number"] == "4111111111111111"
    assert cells["tables", "events", "1", "retention.columns.0.nulled_at"] == "2026-11-30T12:00:00"
    assert cells["consent.history", "", "1", "granted"] == "false"
    assert cells["audiences", "users", "ml__users", "consent.mode"] == "opt_in"
    assert cells["audiences", "users", "analyst__users", "columns.email.handling"] == "masked with domain_only"
    assert cells["erasure.requests", "", "0", "requested_at"] == "2026-10-10T00:00:00"
    assert not any(other in out.read_text(encoding="utf-8") for other in OTHERS)


def test_unknown_subject_gets_a_report_with_empty_sections(project, env):
    out = run_access(project[0], project[1], "no-such-subject", "json", None, env, as_of=AS_OF)
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [t["table"] for t in report["tables"]] == ["events", "payments", "users"]
    assert all(t["rows"] == [] for t in report["tables"])
    assert report["consent"]["history"] == [] and report["consent"]["current"] == []
    assert report["audiences"] == []
    assert report["erasure"]["requested"] is False and report["erasure"]["requests"] == []
    assert report["data_rows"] == 0
    [record] = AuditTrail(env["VEIL_AUDIT_DB"]).records(kind="access", status="exported")
    assert record.rows == 0 and "no-such-subject" not in record.detail + record.system


def test_write_replaces_an_existing_file_atomically(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o644)
    write_access_report({"subject": "x"}, out, "json")
    assert json.loads(out.read_text()) == {"subject": "x"} and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_cli_command(project, env, monkeypatch):
    from click.testing import CliRunner

    from veil.cli import main

    if "access" not in main.commands:
        pytest.skip("`veil access` is not registered in veil.cli yet")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["access", "--subject", "no-such-subject", "--format", "csv",
                                       "--project-dir", str(project[0]), "--database", str(project[1])])
    assert result.exit_code == 0, result.output
    assert [p.suffix for p in (project[0] / "access").iterdir()] == [".csv"]
