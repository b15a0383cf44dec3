"""veil's operations on PostgreSQL go through the same code as on DuckDB: the same project, built on both
engines, gives the same access report, the same published file and the same summary.

`classic_shop` (tests/fixtures/projects/) is built twice from the same files: on DuckDB as
the other erasure tests build it, and on a database of the `pg_server` cluster (target
schema `main`, as DuckDB's, so both engines name every relation alike). Customer 7 has
asked to be erased (the request is registered, not yet carried out). Then each command runs
as a user runs it, on each project, and the outputs are compared.

The helpers here (a database per test module, a dbt profile for it, the files of a table)
serve the other PostgreSQL operation tests too.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from erasure_projects import ShopProject, copy_project
from veil.project import Project

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

SCHEMA = "main"                      # the PostgreSQL target schema: relations are named as on DuckDB
ERASED = 7
NOT_VEIL = ("information_schema", "pg_catalog", "pg_toast", "veil", "veil_private")   # veil's own: the keyed functions


# -- helpers shared by the PostgreSQL operation tests ---------------------------------------------------------------

def create_database(pg_server, prefix: str = "veil_ops") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect(dbname="postgres")
    admin.cursor().execute(f"CREATE DATABASE {name}")
    admin.close()
    return name


def drop_database(pg_server, name: str) -> None:
    admin = pg_server.connect(dbname="postgres")
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def postgres_profile(profile: str, pg_server, dbname: str, schema: str = SCHEMA, host: str | None = None) -> str:
    """profiles.yml text: target `dev` on `dbname` as the cluster's superuser (it installs the keys and builds)."""
    info = pg_server.info
    return textwrap.dedent(f"""\
        {profile}:
          target: dev
          outputs:
            dev:
              type: postgres
              host: "{host or info['host']}"
              port: {info['port']}
              user: {info['user']}
              password: ""
              dbname: {dbname}
              schema: {schema}
              threads: 2
        """)


def rows(pg_server, dbname: str, sql: str, params=None) -> list[tuple]:
    con = pg_server.connect(dbname=dbname)
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
    finally:
        con.close()


def relation_files(pg_server, dbname: str, tables: list[str]) -> dict[str, list[Path]]:
    """Per table (`schema.name`), every file of it on disk: heap, TOAST, their indexes, all forks and segments
    (after a CHECKPOINT, so what the buffers hold is in the files)."""
    con = pg_server.connect(dbname=dbname)
    found: dict[str, list[Path]] = {}
    with con.cursor() as cur:
        cur.execute("CHECKPOINT")
        for table in tables:
            cur.execute("""
                WITH t AS (SELECT %s::regclass AS oid),
                toast AS (SELECT reltoastrelid AS oid FROM pg_class WHERE oid = (SELECT oid FROM t) AND reltoastrelid <> 0),
                rels AS (SELECT oid FROM t UNION SELECT oid FROM toast
                         UNION SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM t UNION SELECT oid FROM toast))
                SELECT pg_relation_filepath(oid) FROM rels""", [table])
            files = []
            for (relative,) in cur.fetchall():
                if relative:
                    base = pg_server.data_dir / relative
                    files += sorted(p for p in base.parent.glob(base.name + "*")
                                    if p.name == base.name or p.name[len(base.name)] in "._")
            found[table] = files
    con.close()
    return found


def holding(files: dict[str, list[Path]], needle: bytes) -> list[str]:
    """The tables one of whose files holds `needle`."""
    return sorted(table for table, paths in files.items()
                  if any(p.is_file() and needle in p.read_bytes() for p in paths))


def stored_tables(pg_server, dbname: str) -> list[str]:
    return [f"{s}.{t}" for s, t in rows(pg_server, dbname, "SELECT table_schema, table_name FROM information_schema.tables "
                                        "WHERE table_type = 'BASE TABLE' AND table_schema <> ALL(%s) ORDER BY 1, 2",
                                        [list(NOT_VEIL)])]


def load_duckdb_sql(pg_server, dbname: str, sql: str) -> None:
    """Run DuckDB SQL (a fixture's `data`) in memory and copy every table it made into `dbname`, typed alike."""
    from psycopg2.extras import execute_values
    from sqlglot import exp

    with duckdb.connect() as duck:
        duck.execute(sql)
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, kind in duck.execute(
                "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position").fetchall():
            columns.setdefault((schema, table), []).append((column, kind))
        con = pg_server.connect(dbname=dbname)
        with con.cursor() as cur:
            for (schema, table), defs in columns.items():
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                typed = ", ".join(f'"{c}" {exp.DataType.build(k, dialect="duckdb").sql("postgres")}' for c, k in defs)
                cur.execute(f'CREATE TABLE "{schema}"."{table}" ({typed})')
                data = duck.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                if data:
                    execute_values(cur, f'INSERT INTO "{schema}"."{table}" VALUES %s', data)
        con.close()


def build_on_postgres(project: ShopProject, pg_server, dbname: str) -> None:
    """compile for postgres, install the keys (the target is a superuser), seed and build."""
    (project.path / "profiles.yml").write_text(postgres_profile(project.spec.name, pg_server, dbname))
    for args in (["compile", "--target", "postgres"], ["keys", "install"]):
        done = project.veil(*args)
        assert done.returncode == 0, f"veil {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    project.dbt("seed")
    project.dbt("build")


# -- both engines, one project ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shops(pg_server, tmp_path_factory):
    dbname = create_database(pg_server)
    built = {}
    for engine in ("duckdb", "postgres"):
        project = copy_project("classic_shop", tmp_path_factory.mktemp(engine))
        if engine == "postgres":
            build_on_postgres(project, pg_server, dbname)
        else:
            project.build()
        project.request_erasure(ERASED, f"req-{ERASED}")
        built[engine] = project
    yield built
    drop_database(pg_server, dbname)


def _veil(project: ShopProject, *args: str):
    done = project.veil(*args)
    assert done.returncode == 0 and "Traceback" not in done.stderr, f"veil {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def _report(project: ShopProject, subject: int) -> dict:
    out = project.path / "access" / f"{subject}.json"
    _veil(project, "access", "--subject", str(subject), "--out", str(out))
    report = json.loads(out.read_text())
    for key in ("generated_at", "as_of"):
        report.pop(key)
    return report


@pytest.mark.parametrize("subject", [ERASED, 12])
def test_access_gives_the_same_report_on_both_engines(shops, subject):
    duck, pg = _report(shops["duckdb"], subject), _report(shops["postgres"], subject)
    assert pg["data_rows"] > 3 and [t["table"] for t in pg["tables"]] == ["customers", "orders", "payments"]
    assert all(t["rows"] for t in pg["tables"]), "the subject has rows in every table: the comparison means something"
    assert pg == duck                       # amounts: 6 (numeric on PostgreSQL) == 6.0 (DOUBLE on DuckDB)
    assert pg["erasure"]["requested"] is (subject == ERASED)


def _published(path: Path) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
        out = {}
        for name in names:
            columns = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                                  "ORDER BY ordinal_position", [name]).fetchall()
            data = con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            out[name] = (columns, [tuple(float(v) if isinstance(v, (Decimal, float)) else v for v in row)
                                   for row in data])
    return out


@pytest.mark.parametrize("audience", ["analyst", "marketing"])
def test_publish_writes_the_same_standalone_file_from_both_engines(shops, audience, tmp_path):
    files = {}
    for engine, project in shops.items():
        out = tmp_path / engine / f"{audience}.duckdb"
        done = _veil(project, "publish", "--audience", audience, "--out", str(out))
        assert f"published 3 tables for audience {audience}" in done.stdout
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name]      # no WAL, no temp file left
        files[engine] = _published(out)
    duck, pg = files["duckdb"], files["postgres"]
    assert sorted(pg) == sorted(duck) == [f"{audience}__customers", f"{audience}__orders", f"{audience}__payments"]
    for name in duck:
        assert [c for c, _ in pg[name][0]] == [c for c, _ in duck[name][0]], name
        assert pg[name][1] == duck[name][1], name              # pseudonyms included: the same key, the same bytes
        assert pg[name][1], f"{name} is empty: the comparison would prove nothing"
    assert dict(pg[f"{audience}__customers"][0])["customer_id"] == "BIGINT"
    trail = Project.load(shops["postgres"].path, env={}).trail()    # audited as on DuckDB: started, then completed
    assert [r.status for r in trail.records(kind="publish") if r.system.endswith(f"{audience}.duckdb")] == [
        "started", "completed"]


def test_summary_is_the_same_on_both_engines(shops):
    duck, pg = (_veil(shops[e], "summary", "--as-of", "2025-06-01").stdout for e in ("duckdb", "postgres"))
    assert pg == duck
    assert "analyst__customers" in pg and "lost: erasure 1" in pg and "rows: not built" not in pg


def test_lint_dbt_reads_the_postgres_models_in_the_postgres_dialect(shops, tmp_path):
    from veil.lint.main import profile_dialect

    project = shops["postgres"]
    assert profile_dialect(project.path) == "postgres" and profile_dialect(shops["duckdb"].path) == "duckdb"
    # a model only PostgreSQL's grammar reads: DuckDB's reports it as unparsable (VL900)
    (project.path / "models" / "marts" / "pg_only.sql").write_text(
        "-- veil: purpose=analytics\nselect customer_id from {{ ref('stg_orders') }}\n"
        "where to_tsvector('simple', status) @@ to_tsquery('simple', 'x')\n")
    try:
        project.dbt("compile", "--select", "pg_only")
        findings = {}
        for extra in ([], ["--dialect", "duckdb"]):
            done = project.veil("lint", "--dbt", "--format", "json", *extra)
            assert done.returncode in (0, 1), done.stderr
            findings[extra and "duckdb" or "profile"] = [f["rule"] for f in json.loads(done.stdout)["findings"]
                                                         if "pg_only" in f.get("path", "")]
    finally:
        (project.path / "models" / "marts" / "pg_only.sql").unlink()
    assert "VL900" in findings["duckdb"], findings
    assert "VL900" not in findings["profile"], findings


def test_snapshot_on_postgres_is_a_one_line_refusal(shops, tmp_path):
    done = shops["postgres"].veil("snapshot", "--audience", "analyst", "--out", str(tmp_path / "snaps"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "needs a DuckDB file" in done.stderr, done.stderr
