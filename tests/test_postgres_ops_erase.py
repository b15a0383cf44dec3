"""`veil erase` and `veil retention` on PostgreSQL: what goes, what stays, and that the bytes leave the table files.

`classic_shop` is built on a database of the `pg_server` cluster; customer 7 and customer 12
ask to be erased, 12 is on legal hold. Whose a row is comes from the test's own joins over
the fixture's data (tests/erasure_projects.py), never from veil; every table and view of the
database must be attributable. Physically: every file of every table (heap, TOAST, indexes,
after a CHECKPOINT) is searched for customer 7's e-mail address, found before the erasure
(the control) and in none of them after, old or new. Then a restore brings the row back and
`veil erase --reapply` takes it out again.

Retention runs on the consent/retention fixture's tables, loaded into their own database.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest

from erasure_projects import ShopProject, _subject, copy_project, of_subject, others_changed, rule_for
from helpers import load_fixture, write_files
from test_postgres_ops import (
    NOT_VEIL,
    build_on_postgres,
    create_database,
    drop_database,
    holding,
    load_duckdb_sql,
    postgres_profile,
    relation_files,
    rows,
    stored_tables,
)

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

ERASED, HELD = 7, 12
EMAIL = b"jana.dubois7@mail.example"          # customer 7's, in seeds/raw_customers.csv and nowhere else
STATS = ("SELECT count(*) FROM pg_stats WHERE schemaname = 'main' AND "
         "(most_common_vals::text LIKE %(v)s OR histogram_bounds::text LIKE %(v)s)")


def row_counts(pg_server, dbname: str, spec) -> Counter:
    """(schema.table, true subject) -> rows, for every table and view of the database but veil's own."""
    keys = spec.keys(spec.fixture)
    relations: dict[str, list[str]] = {}
    for schema, table, column in rows(pg_server, dbname, "SELECT table_schema, table_name, column_name FROM "
                                      "information_schema.columns WHERE table_schema <> ALL(%s) "
                                      "ORDER BY 1, 2, ordinal_position", [list(NOT_VEIL)]):
        relations.setdefault(f"{schema}.{table}", []).append(column)
    counts: Counter = Counter()
    for relation, columns in relations.items():
        column, kind = rule_for(spec, relation, columns)
        schema, table = relation.split(".", 1)
        for value, n in rows(pg_server, dbname, f'SELECT "{column}", count(*) FROM "{schema}"."{table}" GROUP BY 1'):
            counts[relation, _subject(keys[kind], value)] += n
    return counts


def marked(pg_server, dbname: str, spec) -> dict:
    return {(r, c, v): rows(pg_server, dbname, f'SELECT count(*) FROM {r} WHERE "{c}" = %s', [v])[0][0]
            for r, c, v in spec.kept + spec.gone}


@dataclass
class Run:
    project: ShopProject
    dbname: str
    before: Counter
    marked_before: dict
    files_before: dict
    holding_before: list
    stats_before: int
    dry_run: object
    after_dry_run: Counter
    erase: object
    after: Counter
    marked_after: dict
    files_after: dict
    stats_after: int
    report: dict
    published: tuple          # (customer ids in the published file before the erasure, after, its bytes after)


@pytest.fixture(scope="module")
def run(pg_server, tmp_path_factory):
    dbname = create_database(pg_server, "veil_erase")
    project = copy_project("classic_shop", tmp_path_factory.mktemp("pg_erase"))
    veil_yml = project.path / "policies" / "veil.yml"
    veil_yml.write_text(veil_yml.read_text() + f'  legal_holds:\n    subjects: {{"{HELD}": "litigation"}}\n')
    build_on_postgres(project, pg_server, dbname)
    project.request_erasure(ERASED, f"req-{ERASED}")
    project.request_erasure(HELD, f"req-{HELD}")
    rows(pg_server, dbname, "ANALYZE")                 # as autovacuum would: pg_stats now samples the values too
    spec = project.spec
    before, marked_before = row_counts(pg_server, dbname, spec), marked(pg_server, dbname, spec)
    files_before = relation_files(pg_server, dbname, stored_tables(pg_server, dbname))
    holding_before = holding(files_before, EMAIL)
    stats_before = rows(pg_server, dbname, STATS, {"v": f"%{EMAIL.decode()}%"})[0][0]
    published = project.path / "published" / "marketing.duckdb"
    assert project.veil("publish", "--audience", "marketing", "--out", str(published)).returncode == 0
    published_before = _customer_ids(published)
    dry_run = project.veil("erase", "--dry-run")
    after_dry_run = row_counts(pg_server, dbname, spec)
    erase = project.veil("erase")
    after, marked_after = row_counts(pg_server, dbname, spec), marked(pg_server, dbname, spec)
    files_after = relation_files(pg_server, dbname, stored_tables(pg_server, dbname))
    stats_after = rows(pg_server, dbname, STATS, {"v": f"%{EMAIL.decode()}%"})[0][0]
    report = project.veil("audit", "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    yield Run(project, dbname, before, marked_before, files_before, holding_before, stats_before, dry_run,
              after_dry_run, erase, after, marked_after, files_after, stats_after, json.loads(report.stdout),
              (published_before, _customer_ids(published), published.read_bytes()))
    drop_database(pg_server, dbname)


def _customer_ids(path) -> list[int]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT customer_id FROM marketing__customers ORDER BY 1").fetchall()]


def _output(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"


def test_control_the_subject_is_everywhere_and_its_bytes_are_in_the_files(run):
    relations = {relation for relation, _ in run.before}
    assert relations - {relation for relation, _ in of_subject(run.before, ERASED)} == set()
    assert {"main.raw_customers", "main.marketing__customers"} <= set(run.holding_before), run.holding_before
    assert run.stats_before >= 1, "ANALYZE did not sample the e-mail: the statistics check would prove nothing"
    assert [key for key, n in run.marked_before.items() if not n] == []


def test_a_dry_run_counts_and_changes_nothing(run):
    assert run.dry_run.returncode == 0, _output(run.dry_run)
    assert "would erase" in run.dry_run.stdout and "main.raw_customers" in run.dry_run.stdout
    assert run.after_dry_run == run.before


def test_erase_completes_the_request_and_leaves_the_held_one_open(run):
    assert run.erase.returncode == 0, _output(run.erase)
    out = run.erase.stdout
    assert "1 requests pending; 1 on legal hold; 0 refused" in out and "1 requests completed" in out, out
    assert "dbt table       main.customers: erased" in out          # a mart found through column lineage
    assert "Traceback" not in run.erase.stderr


def test_the_subject_is_gone_from_every_table_but_the_registry(run):
    left = {key: n for key, n in of_subject(run.after, ERASED).items() if key[0] != run.project.spec.registry}
    assert left == {}, _output(run.erase)
    assert run.after[run.project.spec.registry, ERASED] == 1


def test_every_other_subjects_rows_are_all_still_there(run):
    assert others_changed(run.before, run.after, ERASED) == {}, _output(run.erase)
    assert of_subject(run.after, HELD) == of_subject(run.before, HELD) != {}     # on hold: untouched


def test_ids_that_collide_go_only_where_they_are_the_subjects(run):
    spec = run.project.spec
    assert {key: run.marked_after[key] for key in spec.gone} == {key: 0 for key in spec.gone}
    assert {key: run.marked_after[key] for key in spec.kept} == {key: run.marked_before[key] for key in spec.kept}


def test_no_table_file_holds_the_erased_bytes_and_the_statistics_forgot_them(run):
    assert holding(run.files_after, EMAIL) == []
    assert holding(run.files_before, EMAIL) == []           # the files VACUUM FULL replaced: emptied or gone
    rewritten = [t for t in run.files_before if t in run.files_after and run.files_before[t] and
                 set(run.files_before[t]) != set(run.files_after[t])]
    assert "main.raw_customers" in rewritten
    assert run.stats_after == 0


def test_the_file_published_from_postgres_is_erased_too(run):
    before, after, data = run.published
    assert ERASED in before and HELD in before, before                 # control
    assert after == [c for c in before if c != ERASED]
    assert EMAIL not in data


def test_the_audit_report_says_completed_and_on_hold(run):
    entries = {e["request_id"]: e for e in run.report["requests"]}
    assert entries[f"req-{ERASED}"]["status"] == "completed", entries[f"req-{ERASED}"]
    assert entries[f"req-{HELD}"]["status"] == "on_hold", entries[f"req-{HELD}"]
    systems = {s["system"] for s in entries[f"req-{ERASED}"]["systems"]}
    assert {"main.raw_customers", "main.raw_orders", "main.raw_payments", "main.consent_events",
            "main.customers", "main.orders"} <= systems, systems


def test_reapply_after_a_restore_erases_the_restored_rows_again(run, pg_server):
    dbname, project = run.dbname, run.project
    rows(pg_server, dbname, "INSERT INTO main.raw_customers (id, first_name, last_name, email) "
                            "VALUES (%s, 'Jana', 'D.', %s)", [ERASED, EMAIL.decode()])   # what a restore brings back
    assert holding(relation_files(pg_server, dbname, ["main.raw_customers"]), EMAIL) == ["main.raw_customers"]
    again = project.veil("erase")
    assert again.returncode == 0 and "0 requests pending" in again.stdout, _output(again)   # completed stays done
    assert rows(pg_server, dbname, "SELECT count(*) FROM main.raw_customers WHERE id = %s", [ERASED]) == [(1,)]
    reapplied = project.veil("erase", "--reapply")
    assert reapplied.returncode == 0 and "re-applied 1 rows" in reapplied.stdout, _output(reapplied)
    assert rows(pg_server, dbname, "SELECT count(*) FROM main.raw_customers WHERE id = %s", [ERASED]) == [(0,)]
    assert holding(relation_files(pg_server, dbname, stored_tables(pg_server, dbname)), EMAIL) == []
    assert others_changed(run.after, row_counts(pg_server, dbname, project.spec), ERASED) == {}


# -- retention ------------------------------------------------------------------------------------------------------

RETENTION = load_fixture("consent_retention_project.yml")


@pytest.fixture
def retention_project(pg_server, tmp_path):
    dbname = create_database(pg_server, "veil_retention")
    load_duckdb_sql(pg_server, dbname, RETENTION["data"])
    write_files(tmp_path, {**RETENTION["files"], "dbt_project.yml": "name: r\nprofile: r\n",
                           "profiles.yml": postgres_profile("r", pg_server, dbname, schema="raw")})
    yield tmp_path, dbname
    drop_database(pg_server, dbname)


def test_retention_deletes_and_nulls_in_place_and_the_bytes_leave_the_files(retention_project, pg_server):
    from click.testing import CliRunner

    from veil.cli import main

    project, dbname = retention_project
    events = "SELECT event_id, ip_address FROM raw.events ORDER BY 1"
    before = rows(pg_server, dbname, events)
    gone = [b"192.0.2.3", b"192.0.2.2"]                 # the expired row's address, the expired column's value
    files_before = relation_files(pg_server, dbname, ["raw.events"])
    assert all(holding(files_before, needle) == ["raw.events"] for needle in gone)   # control

    def retention(*extra):
        return CliRunner().invoke(main, ["retention", "--project-dir", str(project), "--as-of", "2026-11-01", *extra])

    dry = retention("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert 'events ("raw"."events"): would delete 1 rows older than 30 days; would null ip_address in 1 rows; ' \
           "kept 1 rows without an event time" in dry.output
    assert rows(pg_server, dbname, events) == before
    done = retention()
    assert done.exit_code == 0, done.output
    assert "deleted 1 rows older than 30 days; nulled ip_address in 1 rows" in done.output
    assert rows(pg_server, dbname, events) == [(1, "192.0.2.1"), (2, None), (4, "192.0.2.4")]   # as on DuckDB
    files_after = relation_files(pg_server, dbname, ["raw.events"])
    assert [holding(files_after, n) for n in gone] == [[], []] and [holding(files_before, n) for n in gone] == [[], []]
    assert holding(files_after, b"192.0.2.4") == ["raw.events"]        # what stays is still stored
    assert rows(pg_server, dbname, "SELECT count(*) FROM raw.users") == [(12,)]
    again = retention()
    assert "deleted 0 rows older than 30 days; nulled ip_address in 0 rows" in again.output


def test_a_missing_server_is_one_line_and_exit_2_for_every_command(tmp_path, pg_server):
    from click.testing import CliRunner

    from veil.cli import main

    write_files(tmp_path, {**RETENTION["files"], "dbt_project.yml": "name: r\nprofile: r\n",
                           "profiles.yml": postgres_profile("r", pg_server, "veil_nowhere",
                                                            host=str(tmp_path / "no-socket"))})
    for command in (["erase"], ["erase", "--dry-run"], ["retention"], ["access", "--subject", "1"], ["summary"],
                    ["publish", "--audience", "analyst", "--out", str(tmp_path / "a.duckdb")], ["audit", "report"]):
        result = CliRunner().invoke(main, [*command, "--project-dir", str(tmp_path)])
        assert result.exit_code == 2, (command, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cannot connect to PostgreSQL at "), (command, result.output)
    assert not (tmp_path / "a.duckdb").exists()


def test_a_locked_table_is_warehouse_busy(pg_server, retention_project):
    from click.testing import CliRunner

    from veil.cli import main

    project, dbname = retention_project
    holder = pg_server.connect(dbname=dbname, autocommit=False)
    holder.cursor().execute("LOCK TABLE raw.events IN ACCESS EXCLUSIVE MODE")   # `dbt build` replacing it
    try:
        for command in (["retention"], ["access", "--subject", "1"]):
            result = CliRunner().invoke(main, [*command, "--project-dir", str(project)])
            assert result.exit_code == 2, (command, result.output)
            assert result.output.startswith("warehouse busy: ") and result.output.count("\n") == 1, result.output
    finally:
        holder.rollback()
        holder.close()
    assert rows(pg_server, dbname, "SELECT count(*) FROM raw.events") == [(4,)]
