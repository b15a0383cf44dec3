"""Consent and retention semantics, proven on hand-made tables, on DuckDB, PostgreSQL and Spark.

The generated models are rendered to plain SQL (veil.compile.offline, with the
engine's `adapter.dispatch` bodies) and run on each engine (the `engine`
fixture; PostgreSQL is a database of the `pg_server` cluster with the
fixture's tables copied in; Spark is a database of the shared test session with the
tables copied in as parquet, each build in a database of its own): latest decision wins, a tie denies, a parent's
decision covers its children and a child's overrides it, opt-in vs opt-out,
table vs column retention, and the `veil_as_of` clock.
"""

from __future__ import annotations

import uuid

import duckdb
import pytest

from helpers import load_fixture, write_files
from veil.compile import render_project
from veil.compile.checks import check_plan
from veil.compile.offline import render_offline
from veil.compile.plan import plan_project
from veil.errors import CompileError
from veil.policy.load import load_policies

FIXTURE = load_fixture("consent_retention_project.yml")


class PostgresModels:
    """The models of one build in their own schema of the fixture's PostgreSQL database; `execute` as DuckDB's."""

    def __init__(self, pg_server, dbname: str):
        self.con = pg_server.connect(dbname=dbname)
        self.schema = f"build_{uuid.uuid4().hex[:8]}"
        self.execute(f"CREATE SCHEMA {self.schema}")
        self.execute(f"SET search_path = {self.schema}")

    def execute(self, sql: str):
        cur = self.con.cursor()
        cur.execute(sql)
        return cur


class SparkModels:
    """The models of one build in a database of their own on the shared session; `execute` as DuckDB's.

    Sources resolve to the fixture's data database, refs and bare names to the build's.
    """

    def __init__(self, spark, raw_database: str):
        self.spark, self.raw = spark, raw_database
        self.database = f"veil_cr_build_{uuid.uuid4().hex[:8]}"
        spark.sql(f"CREATE DATABASE {self.database}")

    def relation_name(self, relation) -> str:
        return f"{self.raw}.{relation.args[-1]}" if relation.kind == "source" else f"{self.database}.{relation.args[-1]}"

    def execute(self, sql: str):
        import re

        sql = re.sub(r"(CREATE TABLE |FROM |JOIN )(?!\(|veil_cr_)([a-z_]+__[a-z_]+|veil_consent_current)\b",
                     lambda m: f"{m.group(1)}{self.database}.{m.group(2)}", sql)
        rows = [tuple(r) for r in self.spark.sql(sql).collect()]
        return _Rows(rows)


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


def build(project_dir, as_of="2026-11-01", engine=("duckdb", None)):
    """Every generated model built on `engine` (its name, and for postgres the (server, database) of the data,
    for spark the (session, database) of the data)."""
    dialect, data = engine
    plan = plan_project(load_policies(project_dir))
    files = render_project(plan)
    macros = {k: v for k, v in files.items() if k.startswith("macros/")}
    names = {}
    if dialect == "duckdb":
        con = duckdb.connect()
        con.execute(FIXTURE["data"])
    elif dialect == "spark":
        con = SparkModels(*data)
        names = {"relation_name": con.relation_name}
    else:
        con = PostgresModels(*data)
    variables = {"veil_as_of": as_of}
    con.execute("CREATE TABLE veil_consent_current AS "
                + render_offline(files["models/veil/veil_consent_current.sql"], macros, dialect, variables=variables,
                                 **names))
    for model in plan.models:
        sql = render_offline(files[f"models/veil/{model.audience}/{model.name}.sql"], macros, dialect,
                             variables=variables, **names)
        con.execute(f"CREATE TABLE {model.name} AS {sql}")
    return con


@pytest.fixture(scope="module")
def postgres_data(request):
    """A database of the `pg_server` cluster holding the fixture's tables."""
    from test_postgres_ops import create_database, drop_database, load_duckdb_sql

    pg_server = request.getfixturevalue("pg_server")
    dbname = create_database(pg_server, "veil_consent")
    load_duckdb_sql(pg_server, dbname, FIXTURE["data"])
    yield pg_server, dbname
    drop_database(pg_server, dbname)


@pytest.fixture(scope="module")
def spark_data(request):
    """A database of the shared Spark session holding the fixture's tables (built in DuckDB, copied as parquet)."""
    spark = request.getfixturevalue("spark")
    database = f"veil_cr_raw_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database}")
    with duckdb.connect() as con:
        con.execute(FIXTURE["data"])
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'raw'").fetchall()]
        for table in tables:
            schema = ", ".join(f"{c} {_SPARK_TYPES[t]}" for c, t in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'raw' "
                f"AND table_name = '{table}' ORDER BY ordinal_position").fetchall())
            rows = con.execute(f"SELECT * FROM raw.{table}").fetchall()
            spark.createDataFrame(rows, schema).write.format("parquet").saveAsTable(f"{database}.{table}")
    yield spark, database
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


_SPARK_TYPES = {"BIGINT": "BIGINT", "INTEGER": "INT", "VARCHAR": "STRING", "BOOLEAN": "BOOLEAN",
                "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "DOUBLE": "DOUBLE"}
_DATA = {"postgres": "postgres_data", "spark": "spark_data"}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("spark", marks=pytest.mark.spark)])
def engine(request):
    return request.param, request.getfixturevalue(_DATA[request.param]) if request.param in _DATA else None


@pytest.fixture()
def project(tmp_path):
    return write_files(tmp_path, FIXTURE["files"])


@pytest.mark.parametrize("audience", sorted(FIXTURE["expected_subjects"]))
def test_consent_keeps_exactly_the_expected_subjects(project, audience, engine):
    con = build(project, engine=engine)
    got = sorted(r[0] for r in con.execute(f"SELECT user_id FROM {audience}__users").fetchall())
    assert got == FIXTURE["expected_subjects"][audience]


def test_current_consent_latest_wins_and_tie_denies(project, engine):
    con = build(project, engine=engine)
    state = dict(((s, p), g) for s, p, g in con.execute(
        "SELECT subject, purpose, granted FROM veil_consent_current").fetchall())
    assert state[(1, "marketing")] is True        # in, out, in again
    assert state[(2, "marketing")] is False       # withdrawn
    assert state[(3, "marketing")] is False       # tie denies
    assert state[(11, "analytics")] is False      # NULL decision denies
    assert (10, "analytics") not in state         # no time: ignored
    assert con.execute("SELECT count(*) FROM veil_consent_current").fetchone()[0] == len(state)


def test_tables_without_subject_are_not_filtered(project, engine):
    con = build(project, engine=engine)
    for audience in FIXTURE["expected_subjects"]:
        assert con.execute(f"SELECT count(*) FROM {audience}__countries").fetchone()[0] == 2


@pytest.mark.parametrize("as_of", sorted(FIXTURE["expected_events"]))
def test_table_and_column_retention_follow_the_clock(project, as_of, engine):
    con = build(project, as_of=as_of, engine=engine)
    got = [list(r) for r in con.execute("SELECT event_id, ip_address FROM analyst__events ORDER BY 1").fetchall()]
    assert got == FIXTURE["expected_events"][as_of]


def test_bad_clock_stops_the_build(project):
    from veil.compile.offline import OfflineCompilerError

    with pytest.raises(OfflineCompilerError, match="veil_as_of must be a date"):
        build(project, as_of="yesterday'; DROP TABLE x; --")


def test_consent_purpose_without_consent_relation_is_a_compile_error(project):
    veil_yml = (project / "policies/veil.yml").read_text()
    start = veil_yml.index("consent:\n  relation")
    end = veil_yml.index("erasure:")
    (project / "policies/veil.yml").write_text(veil_yml[:start] + veil_yml[end:])
    with pytest.raises(CompileError) as caught:
        check_plan(plan_project(load_policies(project)))
    messages = [str(p) for p in caught.value.problems]
    assert len(messages) == 3   # analyst, mailer, marketer; support has no consent
    assert messages[0].startswith("policies/veil.yml:8: audiences.analyst.purpose: purpose 'analytics' needs consent")


def test_consent_filters_run_as_hash_semi_and_anti_joins(project):
    con = build(project)
    plans = {}
    plan = render_project(plan_project(load_policies(project)))
    macros = {k: v for k, v in plan.items() if k.startswith("macros/")}
    for audience, join_type in (("analyst", "ANTI"), ("mailer", "SEMI")):
        query = render_offline(plan[f"models/veil/{audience}/{audience}__users.sql"], macros,
                               variables={"veil_as_of": "2026-11-01"})
        plans[audience] = "\n".join(row[1] for row in con.execute(f"EXPLAIN {query}").fetchall())
        assert "HASH_JOIN" in plans[audience].upper().replace(" ", "_"), plans[audience]
        assert join_type in plans[audience]
