"""`veil snapshot`: versioned training datasets and the check that says when to retrain.

The warehouse is built by hand in DuckDB (no dbt run): the raw consent and
erasure relations, and the `ml` audience's models as tables with exactly the
kept columns the plan gives for the reference policies.
"""

from __future__ import annotations

import doctest
import json
import shutil
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import veil
import veil.snapshot.check
import veil.snapshot.create
import veil.snapshot.registry
from helpers import REPO
from veil.audit import audit_trail
from veil.compile.plan import plan_project
from veil.errors import UsageError
from veil.policy.load import load_policies
from veil.relations import PhysicalRelations
from veil.duckdb_functions import register_functions
from veil.snapshot import check_snapshot, create_snapshot, format_check, subject_digest

KEY = bytes(range(32))   # a test key, not a secret

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
TS = datetime(2026, 1, 5, 9, 30)

# Rows per model, by kept column; the test checks the names against the plan.
MODEL_ROWS = {
    "ml__users": (
        {"user_id": "BIGINT", "birth_date": "INTEGER", "zip": "VARCHAR", "country": "VARCHAR",
         "created_at": "TIMESTAMP"},
        [(3, 1990, "641", "US", TS), (1, 2001, "782", "ES", TS), (2, None, "100", "DE", TS)]),
    "ml__events": (
        {"event_id": "BIGINT", "user_id": "BIGINT", "device_id": "VARCHAR", "event_type": "VARCHAR",
         "amount": "DECIMAL(18,2)", "event_ts": "TIMESTAMP"},
        [(12, 2, "d_2", "click", None, TS), (10, 1, "d_1", "view", Decimal("1.50"), TS),
         (11, 1, "d_1", "purchase", Decimal("20.00"), TS)]),
    "ml__payments": (
        {"payment_id": "BIGINT", "user_id": "BIGINT", "card_number": "VARCHAR", "amount": "DECIMAL(18,2)",
         "currency": "VARCHAR", "paid_at": "TIMESTAMP"},
        [(101, 3, "tok_3", Decimal("9.99"), "USD", TS), (100, 1, "tok_1", Decimal("20.00"), "EUR", TS)]),
}


def _create(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], rows: list[tuple]) -> None:
    con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", rows)


@pytest.fixture
def project(tmp_path: Path) -> dict:
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    plan = plan_project(load_policies(tmp_path))
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA raw")
        _create(con, "raw.users", {"user_id": "BIGINT", "email": "VARCHAR"},
                [(i, f"u{i}@example.com") for i in range(1, 6)])
        _create(con, "raw.consent_events", {"user_id": "BIGINT", "purpose": "VARCHAR", "granted": "BOOLEAN",
                                            "recorded_at": "TIMESTAMP"},
                [(1, "ml_training", True, datetime(2026, 1, 2)), (2, "ml_training", True, datetime(2026, 1, 3)),
                 (3, "ml_training", True, datetime(2026, 1, 4)), (4, "ml_training", False, datetime(2026, 1, 6))])
        _create(con, "raw.deletion_requests", {"user_id": "BIGINT", "requested_at": "TIMESTAMP"},
                [(5, datetime(2026, 2, 1))])
        for name, (columns, rows) in MODEL_ROWS.items():
            _create(con, name, columns, rows)
    return {"root": tmp_path, "plan": plan, "database": database, "out": tmp_path / "snapshots",
            "env": {"VEIL_AUDIT_DB": str(tmp_path / "audit.duckdb"), "VEIL_KEY": KEY.hex()}}


def _snapshot(project: dict, when: datetime = T0) -> Path:
    return create_snapshot(project["plan"], project["database"], "ml", project["out"],
                           relations=PhysicalRelations({}), env=project["env"], clock=lambda: when)


def _check(project: dict, folder: Path):
    return check_snapshot(project["plan"], project["database"], folder, env=project["env"])


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_the_fixture_models_have_exactly_the_planned_kept_columns(project):
    planned = {m.name: [d.name for d in m.kept] for m in project["plan"].for_audience("ml")}
    assert planned == {name: list(columns) for name, (columns, _) in MODEL_ROWS.items()}


def test_snapshot_folder_layout_and_manifest(project):
    folder = _snapshot(project)
    assert folder == project["out"] / "ml-20260301T120000Z"
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "ml__events.parquet", "ml__payments.parquet", "ml__users.parquet"]
    assert [p.name for p in project["out"].iterdir()] == [folder.name]     # no temp folder left behind
    manifest = _manifest(folder)
    assert manifest["format"] == "veil.snapshot" and manifest["format_version"] == 1
    assert (manifest["audience"], manifest["purpose"], manifest["consent_mode"]) == ("ml", "ml_training", "opt_in")
    assert manifest["created_at"] == "2026-03-01T12:00:00Z"
    assert manifest["tool_version"] == veil.__version__
    assert manifest["warehouse"] == str(project["database"].resolve())
    tables = {t["model"]: t for t in manifest["tables"]}
    assert list(tables) == ["ml__events", "ml__payments", "ml__users"]
    users = tables["ml__users"]
    assert (users["file"], users["rows"], users["subject_column"]) == ("ml__users.parquet", 3, "user_id")
    assert users["sha256"] == veil.snapshot.create.file_sha256(folder / "ml__users.parquet")
    assert {c["name"]: (c["handling"], c["strategy"]) for c in users["columns"]} == {
        "user_id": ("raw", None), "birth_date": ("masked", "year_only"), "zip": ("masked", "zip3"),
        "country": ("raw", None), "created_at": ("raw", None)}
    assert {c["name"]: c["type"] for c in tables["ml__events"]["columns"]}["amount"] == "DECIMAL(18,2)"
    assert {c["name"]: c["handling"] for c in tables["ml__payments"]["columns"]}["card_number"] == "masked"
    assert manifest["content_hash"] == veil.snapshot.create.content_hash(
        {name: t["sha256"] for name, t in tables.items()})
    assert manifest["consent_state_as_of"] == "2026-01-06T00:00:00"
    assert manifest["erasure_registry"] == {
        "relation": "source('raw', 'deletion_requests')", "requests": 1, "max_requested_at": "2026-02-01T00:00:00",
        "erased_subjects": [subject_digest(5, KEY)]}
    assert manifest["subjects"] == sorted(subject_digest(i, KEY) for i in (1, 2, 3))
    assert manifest["untraced_tables"] == []


def test_manifest_holds_digests_never_subject_ids(project):
    folder = _snapshot(project)
    registry = _manifest(folder)["erasure_registry"]
    assert registry["erased_subjects"] == [subject_digest(5, KEY)] and "5" not in registry["erased_subjects"]
    with duckdb.connect() as con:   # the SQL digest of the id's text, under the subject-digest key
        register_functions(con, KEY)
        digest, pseudonym = con.execute("SELECT veil_subject_digest(5::BIGINT), veil_hmac_sha256(5::BIGINT)").fetchone()
        assert digest == subject_digest(5, KEY)
        # a pseudonymized dataset must not tell who asked to be erased: no digest prefix equals a pseudonym's
        assert digest[:32] != pseudonym[:32] and pseudonym[:32] not in (folder / "manifest.json").read_text()
    text = (folder / "manifest.json").read_text()
    assert "u5@example.com" not in text and '"user_id": 5' not in text


def test_parquet_round_trips_to_the_model_rows_in_a_stable_order(project):
    folder = _snapshot(project)
    with duckdb.connect(str(project["database"]), read_only=True) as con:
        for name, (columns, _) in MODEL_ROWS.items():
            names = ", ".join(columns)
            in_file = con.execute(f"SELECT {names} FROM read_parquet('{folder / name}.parquet')").fetchall()
            in_model = con.execute(f"SELECT {names} FROM {name} ORDER BY ALL").fetchall()
            assert in_file == in_model, name
            types = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{folder / name}.parquet')").fetchall()
            assert [(t[0], t[1]) for t in types] == list(columns.items())


def test_same_data_same_hashes_in_a_new_folder(project):
    first = _snapshot(project)
    with duckdb.connect(str(project["database"])) as con:   # same rows, another physical order
        con.execute("CREATE TABLE shuffled AS SELECT * FROM ml__events ORDER BY event_id DESC")
        con.execute("DROP TABLE ml__events")
        con.execute("ALTER TABLE shuffled RENAME TO ml__events")
    second = _snapshot(project, T0 + timedelta(hours=1))
    assert first != second and first.exists() and second.exists()
    a, b = _manifest(first), _manifest(second)
    assert [t["sha256"] for t in a["tables"]] == [t["sha256"] for t in b["tables"]]
    assert a["content_hash"] == b["content_hash"]


def test_a_snapshot_never_replaces_another(project, monkeypatch):
    monkeypatch.setattr(veil.snapshot.create, "CLASH_WAIT_SECONDS", 0.2)
    stamps = iter([T0, T0, T0 + timedelta(seconds=1)])
    first = _snapshot(project)
    before = (first / "manifest.json").read_bytes()
    second = create_snapshot(project["plan"], project["database"], "ml", project["out"],
                             relations=PhysicalRelations({}), env=project["env"], clock=lambda: next(stamps))
    assert second.name == "ml-20260301T120001Z"
    assert (first / "manifest.json").read_bytes() == before
    with pytest.raises(UsageError, match="already exists"):
        _snapshot(project)


def test_check_is_clean_then_names_the_newly_erased_subject(project):
    folder = _snapshot(project)
    clean = _check(project, folder)
    assert (clean.erased_count, clean.changed_files, clean.clean, clean.exit_code) == (0, (), True, 0)
    assert clean.registry_now == clean.registry_at_snapshot and clean.audit == "matches"
    with duckdb.connect(str(project["database"])) as con:
        con.execute("INSERT INTO raw.deletion_requests VALUES (3, '2026-03-02 08:00:00'), (4, '2026-03-02 09:00:00')")
    after = _check(project, folder)
    assert after.erased_subjects == (subject_digest(3, KEY),)   # 4 asked too, but is not in the snapshot
    assert after.erased_count == 1 and after.exit_code == 1 and after.changed_files == ()
    assert after.registry_at_snapshot == {"requests": 1, "max_requested_at": "2026-02-01T00:00:00"}
    assert after.registry_now == {"requests": 3, "max_requested_at": "2026-03-02T09:00:00"}
    assert after.registry_advanced
    assert "RETRAIN: 1 subjects" in format_check(after)


def test_check_reports_a_tampered_parquet_file_and_manifest(project):
    folder = _snapshot(project)
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_parquet('{folder}/ml__users.parquet') WHERE user_id <> 3) "
                    f"TO '{folder}/ml__users.parquet' (FORMAT parquet)")
    check = _check(project, folder)
    assert check.changed_files == ("ml__users.parquet",) and check.exit_code == 1
    assert "CHANGED: 1 files" in format_check(check)

    manifest = _manifest(folder)   # hide a subject from the manifest: the audit record catches it
    manifest["subjects"] = manifest["subjects"][1:]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    check = _check(project, folder)
    assert check.audit == "differs" and "manifest.json" in check.changed_files


def test_unknown_audience_and_unbuilt_models_are_usage_errors(project):
    with pytest.raises(UsageError, match="unknown audience 'nope'.*analyst, ml, support"):
        create_snapshot(project["plan"], project["database"], "nope", project["out"],
                        relations=PhysicalRelations({}), env=project["env"])
    with duckdb.connect(str(project["database"])) as con:
        con.execute("DROP TABLE ml__payments")
    with pytest.raises(UsageError, match="ml__payments.*dbt build"):
        _snapshot(project)
    assert not project["out"].exists() or list(project["out"].iterdir()) == []
    with pytest.raises(UsageError, match="dbt build"):
        create_snapshot(project["plan"], project["root"] / "missing.duckdb", "ml", project["out"],
                        relations=PhysicalRelations({}), env=project["env"])


def test_snapshot_is_audited(project):
    folder = _snapshot(project)
    started, record = audit_trail(project["env"]).records(kind="snapshot")
    assert (started.system, started.status) == (str(project["out"]), "started")      # before anything is written
    [temp] = started.details["temp_files"]
    assert Path(temp).parent == project["out"] and Path(temp).name.startswith(".ml-") and not Path(temp).exists()
    assert (record.system, record.method, record.rows, record.status) == (str(folder), "parquet", 8, "created")
    assert record.details["audience"] == "ml" and record.details["run"] == started.details["run"]
    manifest = _manifest(folder)
    assert record.details["content_hash"] == manifest["content_hash"]
    assert record.details["files"] == {t["file"]: t["sha256"] for t in manifest["tables"]}
    assert audit_trail(project["env"]).verify() == 2


def test_a_record_naming_the_version_only_still_counts(project):
    """Snapshots made before veil recorded paths: their record names the folder; the check still finds it."""
    folder = _snapshot(project)
    trail = audit_trail(project["env"])
    recorded = trail.records(kind="snapshot", status="created")[-1]
    trail.path.unlink()
    trail.append("snapshot", system=folder.name, method="parquet", status="created",
                 detail={"manifest_sha256": recorded.details["manifest_sha256"]})
    assert _check(project, folder).audit == "matches"


def test_docstring_examples():
    for module in (veil.snapshot.create, veil.snapshot.check, veil.snapshot.registry):
        assert doctest.testmod(module).failed == 0
