"""PostgresWarehouse against a real server: the seam's methods, its errors, and erasure down to the table files."""

from __future__ import annotations

import datetime
import doctest
import secrets
from pathlib import Path

import pytest
from sqlglot import exp

import veil.warehouse
import veil.warehouse.postgres
from veil.project import Project
from veil.warehouse import PhysicalTable, WarehouseError
from veil.warehouse.postgres import PostgresWarehouse
from pg_server import wait_for_log

pytestmark = pytest.mark.postgres

USERS = PhysicalTable("wh_raw", "users_tbl")
DIM = PhysicalTable("wh_marts", "dim_users")
MANIFEST = {
    "sources": {"source.p.app.users": {"source_name": "app", "name": "users", "schema": "wh_raw",
                                       "identifier": "users_tbl"}},
    "nodes": {"model.p.dim_users": {"resource_type": "model", "name": "dim_users", "schema": "wh_marts"}},
}


@pytest.fixture
def target(pg_server):
    """A dbt-postgres target for veil_test, and a fresh small schema in it."""
    con = pg_server.connect()
    with con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS wh_raw CASCADE; DROP SCHEMA IF EXISTS wh_marts CASCADE")
        cur.execute("CREATE SCHEMA wh_raw; CREATE SCHEMA wh_marts")
        cur.execute("CREATE TABLE wh_raw.users_tbl (id integer PRIMARY KEY, email text, note text) "
                    "WITH (autovacuum_enabled = false)")
        cur.execute("CREATE INDEX users_email ON wh_raw.users_tbl (email)")
        cur.execute("INSERT INTO wh_raw.users_tbl VALUES (1, 'a@example.com', 'x'), (2, 'b@example.com', NULL)")
        cur.execute("CREATE TABLE wh_marts.dim_users AS SELECT id, 'h' || id AS email_hash FROM wh_raw.users_tbl")
        cur.execute("CREATE VIEW wh_marts.v_users AS SELECT id FROM wh_marts.dim_users")
        cur.execute("CREATE TABLE wh_marts.orphan (id integer)")
    con.close()
    return {"type": "postgres", "host": pg_server.host, "port": pg_server.port, "user": "veil_admin",
            "password": "", "dbname": "veil_test", "schema": "wh_marts", "threads": 1}


@pytest.fixture
def warehouse(target):
    wh = PostgresWarehouse(target, MANIFEST)
    yield wh
    wh.close()


def test_execute_renders_trees_for_postgres_and_binds_values(warehouse):
    warehouse.execute(exp.insert(exp.values([(exp.Placeholder(), exp.Placeholder(), exp.Placeholder())]),
                                 USERS.expression), [3, "50%@example.com", "o'brien"])
    query = (exp.select("id", "note").from_(USERS.expression)
             .where(exp.column("email").like(exp.Literal.string("50%")).and_(exp.column("id").eq(exp.Placeholder())))
             .order_by("id"))
    assert warehouse.execute(query, [3]) == [(3, "o'brien")]
    named = exp.select("email").from_(USERS.expression).where(exp.column("id").eq(exp.Placeholder(this="wanted")))
    assert warehouse.execute(named, {"wanted": 1}) == [("a@example.com",)]
    assert warehouse.execute(exp.delete(USERS.expression, exp.column("id").eq(exp.Placeholder())), [3]) == []
    assert USERS in warehouse.changed


def test_locate_through_the_manifest(warehouse):
    assert warehouse.locate("source('app', 'users')") == USERS
    assert warehouse.locate("ref('dim_users')") == DIM
    assert warehouse.locate("ref('orphan')") == PhysicalTable("wh_marts", "orphan")      # by name in the database
    assert warehouse.locate("ref('not_built_yet')") == PhysicalTable("wh_marts", "not_built_yet")  # target schema
    assert warehouse.locate("source('other', 't')") == PhysicalTable("other", "t")


def test_tables_columns_exists(warehouse):
    ours = [(t, kind) for t, kind in warehouse.tables() if t.schema.startswith("wh_")]
    assert ours == [(PhysicalTable("wh_marts", "dim_users"), "BASE TABLE"), (PhysicalTable("wh_marts", "orphan"),
                    "BASE TABLE"), (PhysicalTable("wh_marts", "v_users"), "VIEW"), (USERS, "BASE TABLE")]
    assert warehouse.columns(USERS) == [("id", "integer"), ("email", "text"), ("note", "text")]
    assert warehouse.exists(DIM) and not warehouse.exists(PhysicalTable("wh_marts", "nope"))
    assert not any(t.schema in ("pg_catalog", "information_schema") for t, _ in warehouse.tables())


def count(warehouse, table=USERS):
    return warehouse.execute(exp.select(exp.func("count", exp.Star())).from_(table.expression))[0][0]


def test_a_transaction_rolls_back_on_error_and_commits_otherwise(warehouse):
    with pytest.raises(WarehouseError, match="warehouse error on"):
        with warehouse.transaction():
            warehouse.execute(exp.delete(USERS.expression, "id = 1"))
            assert count(warehouse) == 1
            warehouse.execute(exp.select("*").from_(PhysicalTable("wh_raw", "missing").expression))
    assert count(warehouse) == 2
    with pytest.raises(RuntimeError):
        with warehouse.transaction():
            warehouse.execute(exp.delete(USERS.expression, "id = 1"))
            raise RuntimeError("stop")
    assert count(warehouse) == 2
    with warehouse.transaction():
        warehouse.execute(exp.delete(USERS.expression, "id = 1"))
    assert count(warehouse) == 1


def test_a_locked_table_is_warehouse_busy(pg_server, target):
    holder = pg_server.connect(autocommit=False)
    holder.cursor().execute("LOCK TABLE wh_raw.users_tbl IN ACCESS EXCLUSIVE MODE")
    wh = PostgresWarehouse(target, MANIFEST, lock_timeout_ms=200)
    try:
        with pytest.raises(WarehouseError, match=r"^warehouse busy: .*lock timeout"):
            count(wh)
        with pytest.raises(WarehouseError, match="^warehouse busy"):
            wh.compact([USERS])
    finally:
        holder.rollback()
        holder.close()
    assert count(wh) == 2
    wh.close()


def test_a_server_that_is_not_there_cannot_be_connected(target, tmp_path):
    with pytest.raises(WarehouseError, match=rf"^cannot connect to PostgreSQL at {tmp_path}:5432/veil_test"):
        PostgresWarehouse({**target, "host": str(tmp_path)}, None)
    with pytest.raises(WarehouseError, match="^cannot connect to PostgreSQL at"):
        PostgresWarehouse({**target, "dbname": "no_such_db"}, None)


def test_compact_is_vacuum_full_of_the_changed_tables(warehouse, pg_server):
    before = relfilenodes(pg_server, [USERS, DIM])
    warehouse.execute(exp.delete(USERS.expression, "id = 2"))
    with pytest.raises(WarehouseError, match="inside a transaction"), warehouse.transaction():
        warehouse.compact()
    warehouse.compact()
    after = relfilenodes(pg_server, [USERS, DIM])
    assert after[USERS] != before[USERS] and after[DIM] == before[DIM]   # only the changed table was rewritten
    assert warehouse.changed == set() and count(warehouse) == 1


def relfilenodes(pg_server, tables):
    con = pg_server.connect()
    with con.cursor() as cur:
        out = {}
        for table in tables:
            cur.execute("SELECT pg_relation_filenode(%s::regclass)", [table.sql_name])
            out[table] = cur.fetchone()[0]
    con.close()
    return out


def table_files(pg_server, table) -> list[Path]:
    """Every file of the table on disk: heap, TOAST, their indexes, all forks and segments (after a CHECKPOINT)."""
    con = pg_server.connect()
    with con.cursor() as cur:
        cur.execute("CHECKPOINT")
        cur.execute("""
            WITH t AS (SELECT %s::regclass AS oid),
            rels AS (SELECT oid FROM t
                     UNION SELECT reltoastrelid FROM pg_class WHERE oid = (SELECT oid FROM t) AND reltoastrelid <> 0
                     UNION SELECT indexrelid FROM pg_index WHERE indrelid IN
                        (SELECT oid FROM t UNION SELECT reltoastrelid FROM pg_class WHERE oid = (SELECT oid FROM t)))
            SELECT pg_relation_filepath(oid) FROM rels""", [table.sql_name])
        relative = [row[0] for row in cur.fetchall() if row[0]]
    con.close()
    files = []
    for rel in relative:
        base = pg_server.data_dir / rel
        files.extend(sorted(p for p in base.parent.glob(base.name + "*")
                            if p.name == base.name or p.name[len(base.name)] in "._"))
    return files


def found_in(files, needle: bytes) -> list[Path]:
    return [path for path in files if path.is_file() and needle in path.read_bytes()]


def test_erased_bytes_leave_the_table_files(warehouse, pg_server):
    marker = f"erase-me-{secrets.token_hex(12)}@example.com"
    needle = marker.encode()
    warehouse.execute(exp.insert(exp.values([(exp.Placeholder(), exp.Placeholder(), exp.Placeholder())]),
                                 USERS.expression), [42, marker, marker])
    files_before = table_files(pg_server, USERS)
    assert found_in(files_before, needle), "the value is not in the files before the delete: the proof would prove nothing"
    warehouse.execute(exp.delete(USERS.expression, exp.column("email").eq(exp.Placeholder())), [marker])
    assert found_in(table_files(pg_server, USERS), needle), "a plain DELETE already removed the bytes (unexpected)"

    warehouse.compact()

    files_after = table_files(pg_server, USERS)
    assert files_after and not set(files_after) & set(files_before)     # new files for heap and index
    assert found_in(files_after, needle) == []
    assert found_in(files_before, needle) == []                         # the old files are truncated or gone
    assert count(warehouse) == 2 and warehouse.columns(USERS)[1] == ("email", "text")


def test_the_project_dispatches_a_postgres_target(target, tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: \"{{ env_var('PGH') }}\"\n"
        f"      port: {target['port']}\n      user: veil_admin\n      password: ''\n      dbname: veil_test\n"
        "      schema: wh_marts\n")
    project = Project.load(tmp_path, env={"PGH": target["host"]})
    assert veil.warehouse.target_type(project) == "postgres"
    with project.warehouse(read_only=True) as wh:
        assert isinstance(wh, PostgresWarehouse) and wh.location.endswith("/veil_test")
        assert wh.locate("ref('dim_users')") == DIM
        with pytest.raises(WarehouseError, match="read-only transaction"):
            wh.execute(exp.delete(USERS.expression, "id = 1"))
    assert wh.con is None
    assert veil.warehouse.target_type(Project.load(tmp_path, env={}, database=tmp_path / "w.duckdb")) == "duckdb"


def test_docstring_examples():
    import importlib

    names = ["veil.warehouse.postgres", "veil.warehouse", "veil.warehouse.base", "veil.warehouse.duckdb",
             "veil.erasure.requests", "veil.publish", "veil.summary", "veil.lint.main", "veil.access",
             "veil.access.queries", "veil.access.report", "veil.retention", "veil.project"]
    for name in names:
        assert doctest.testmod(importlib.import_module(name)).failed == 0, name


def test_register_rows_is_a_temporary_table_even_on_a_read_only_connection(target, pg_server):
    wh = PostgresWarehouse(target, MANIFEST, read_only=True)
    try:
        wh.register_rows("veil_pending", ["subject"], [("1",), ("o'brien, \"q\"",), (None,), ("",)])
        assert sorted(wh.execute("SELECT subject FROM veil_pending"), key=str) == [
            ("",), ("1",), ("o'brien, \"q\"",), (None,)]
        wh.register_rows("veil_pending", ["subject"], [("2",)])          # registered again: replaced
        match = exp.select("id").from_(USERS.expression).where(
            exp.In(this=exp.cast(exp.column("id"), "text"), query=exp.Subquery(this=exp.select("subject").from_("veil_pending"))))
        assert wh.execute(match) == [(2,)]
        assert not any(t.name == "veil_pending" for t, _ in wh.tables())  # no table of the warehouse
        assert wh.changed == set()
    finally:
        wh.close()
    assert wait_for_log(pg_server, 'COPY pg_temp."veil_pending" FROM STDIN')
    assert "o'brien" not in pg_server.log_text()                          # COPY rows are not logged


def test_records_are_keyed_by_the_result_columns(warehouse):
    query = exp.select(exp.column("id"), exp.alias_(exp.column("email"), "mail")).from_(USERS.expression).order_by("id")
    assert warehouse.records(query) == [{"id": 1, "mail": "a@example.com"}, {"id": 2, "mail": "b@example.com"}]


def test_a_refused_statement_is_a_statement_error_with_the_drivers_reason(warehouse):
    from veil.warehouse import StatementError

    with pytest.raises(StatementError) as caught:
        warehouse.execute(exp.select("nope").from_(USERS.expression))
    assert 'column "nope" does not exist' in caught.value.reason


def test_export_duckdb_types_the_columns_like_duckdb_would(target, pg_server, tmp_path):
    import duckdb

    con = pg_server.connect()
    with con.cursor() as cur:
        cur.execute("CREATE TABLE wh_marts.typed (i integer, b bigint, n numeric(10,2), u numeric, t text, "
                    "v varchar(5), d date, ts timestamp, tz timestamptz, ok boolean, raw bytea, id uuid, j jsonb, "
                    "ip inet, tags text[])")
        cur.execute("INSERT INTO wh_marts.typed VALUES (1, 9000000000, 19.99, 1.5, 'x''y', 'abc', '2026-01-02', "
                    "'2026-01-02 03:04:05', '2026-01-02 03:04:05+02', true, '\\x00ff', "
                    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": 1}', '192.0.2.1', '{a,b}'), "
                    "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    con.close()
    wh = PostgresWarehouse(target, MANIFEST, read_only=True)
    out = tmp_path / "out.duckdb"
    typed = PhysicalTable("wh_marts", "typed")
    try:
        counts = wh.export_duckdb({"typed": exp.select("*").from_(typed.expression),
                                   "few": exp.select("id").from_(USERS.expression).where("id = 2")}, out)
    finally:
        wh.close()
    assert counts == {"typed": 2, "few": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.duckdb"]            # checkpointed: no WAL
    with duckdb.connect(str(out), read_only=True) as duck:
        types = duck.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'typed' ORDER BY ordinal_position").fetchall()
        assert types == [("i", "INTEGER"), ("b", "BIGINT"), ("n", "DECIMAL(10,2)"), ("u", "DOUBLE"),
                         ("t", "VARCHAR"), ("v", "VARCHAR"), ("d", "DATE"), ("ts", "TIMESTAMP"),
                         ("tz", "TIMESTAMP WITH TIME ZONE"), ("ok", "BOOLEAN"), ("raw", "BLOB"), ("id", "UUID"),
                         ("j", "VARCHAR"), ("ip", "VARCHAR"), ("tags", "VARCHAR")]
        duck.execute("SET TimeZone = 'UTC'")
        row = duck.execute("SELECT i, b, CAST(n AS VARCHAR), u, t, d, CAST(ts AS VARCHAR), CAST(tz AS VARCHAR), ok, "
                           "raw, CAST(id AS VARCHAR), j, ip, tags FROM typed WHERE i = 1").fetchone()
        assert row == (1, 9000000000, "19.99", 1.5, "x'y", datetime.date(2026, 1, 2),
                       "2026-01-02 03:04:05", "2026-01-02 01:04:05+00", True, b"\x00\xff",
                       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", '{"k": 1}', "192.0.2.1/32", "{a,b}")   # text as PostgreSQL casts it
        assert duck.execute("SELECT count(*) FROM typed WHERE i IS NULL AND t IS NULL").fetchone() == (1,)
        assert duck.execute("SELECT * FROM few").fetchall() == [(2,)]
        assert sorted(r[0] for r in duck.execute("SELECT table_name FROM information_schema.tables").fetchall()) == [
            "few", "typed"]


def test_compact_refreshes_the_planner_statistics_that_sampled_an_erased_value(warehouse):
    marker = f"stat-{secrets.token_hex(8)}@example.com"
    warehouse.execute(exp.insert(exp.values([(exp.Placeholder(), exp.Placeholder(), exp.Placeholder())]),
                                 USERS.expression), [43, marker, None])
    warehouse.execute(f"ANALYZE {USERS.sql_name}")
    stats = ("SELECT string_agg(COALESCE(most_common_vals::text, '') || COALESCE(histogram_bounds::text, ''), ' ') "
             "FROM pg_stats WHERE schemaname = 'wh_raw' AND tablename = 'users_tbl' AND attname = 'email'")
    assert marker in warehouse.execute(stats)[0][0]          # control: ANALYZE sampled it
    warehouse.execute(exp.delete(USERS.expression, exp.column("id").eq(exp.Placeholder())), [43])
    warehouse.compact()
    assert marker not in (warehouse.execute(stats)[0][0] or "")
