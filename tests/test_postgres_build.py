"""End to end on PostgreSQL: `veil compile --target postgres`, `veil keys install`, `dbt build`, then what each role sees.

A throwaway dbt project (users, their orders reached through `subject: {via: ...}`,
a consent log and a deletion registry, all seeds) is built on the `pg_server`
cluster by a non-superuser builder role. Two audiences have their own schema
and grants; the DBA (the test) creates the schemas and grants USAGE on each
to its audience's role only. Then, connected as the analyst role: it reads its
models; it is refused the raw schema, the other audience's schema and the key
table; its pseudonyms are DuckDB's for the same key; the key is in no file,
log or statistics view. A row of an erased subject slipped into a built model
makes `veil_not_erased` fail.
"""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from pathlib import Path

import duckdb
import psycopg2
import pytest
from dbt_runner import BIN
from helpers import TEST_KEY_HEX, write_files
from pg_server import wait_for_log

from veil.hmac_sql import register_hmac

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

BUILDER, ANALYST, MARKETER = "veil_e2e_builder", "veil_e2e_analyst", "veil_e2e_marketer"
BASE_SCHEMA = "shop"                       # the builder target's schema: seeds land here
ANALYST_SCHEMA, MARKETING_SCHEMA = f"{BASE_SCHEMA}_analyst", f"{BASE_SCHEMA}_marketing"   # dbt: <target>_<custom>
AS_OF = "2026-10-10"
ERASED = 3                                 # customer 3 asked to be erased

USERS = """customer_id,email,ip_address,zip,birth_date,phone,signup_at
1,ada@example.com,192.168.1.100,02139,1985-03-14,555-123-4567,2026-01-05 10:00:00
2,bob@mail.example,10.0.0.7,10001,1990-07-01,555-987-6543,2026-02-11 09:30:00
3,erase.me@example.org,172.16.5.4,89301,1977-12-31,555-000-1111,2026-03-20 18:45:00
4,dee@example.net,203.0.113.9,94105,2001-05-05,555-222-3333,2026-04-02 08:15:00
5,eve@example.com,198.51.100.20,60614,1969-09-09,555-444-5555,2026-05-17 21:00:00
"""
ORDERS = """order_id,customer_id,amount,ordered_at,card_number,shipping_zip
10,1,19.99,2026-06-01 12:00:00,4111111111111111,02139
11,1,5.00,2026-06-03 12:00:00,4111111111111111,02139
12,2,42.50,2026-07-04 08:00:00,5500000000000004,10001
13,3,7.25,2026-07-10 17:30:00,340000000000009,89301
14,4,99.00,2026-08-01 11:11:00,6011000000000004,94105
15,5,12.00,2026-09-09 09:09:00,4111111111111111,60614
16,5,1.00,2020-01-01 00:00:00,4111111111111111,60614
"""
CONSENT = """customer_id,purpose,granted,recorded_at
1,marketing,true,2026-01-06 00:00:00
2,marketing,true,2026-02-12 00:00:00
2,analytics,false,2026-02-13 00:00:00
4,marketing,true,2026-04-03 00:00:00
4,marketing,false,2026-04-04 00:00:00
5,marketing,true,2026-05-18 00:00:00
"""
DELETIONS = f"""request_id,customer_id,requested_at
r-1,{ERASED},2026-09-01 00:00:00
"""

FILES = {
    "dbt_project.yml": f"""
        name: pg_shop
        version: "1.0.0"
        config-version: 2
        profile: pg_shop
        model-paths: ["models"]
        macro-paths: ["macros"]
        seed-paths: ["seeds"]
        target-path: "target"
        vars: {{veil_as_of: "{AS_OF}"}}
        models:
          pg_shop:
            veil:
              +materialized: table
        seeds:
          pg_shop:
            users:
              +column_types: {{customer_id: bigint, email: text, ip_address: text, zip: text, birth_date: date,
                               phone: text, signup_at: timestamp}}
            orders:
              +column_types: {{order_id: bigint, customer_id: bigint, amount: "numeric(10,2)",
                               ordered_at: timestamp, card_number: text, shipping_zip: text}}
            consent_events:
              +column_types: {{customer_id: bigint, purpose: text, granted: boolean, recorded_at: timestamp}}
            deletion_requests:
              +column_types: {{request_id: text, customer_id: bigint, requested_at: timestamp}}
        """,
    "policies/veil.yml": f"""
        version: 1
        purposes:
          analytics: {{consent: opt_out, description: "Analytics"}}
          marketing: {{consent: opt_in, description: "Marketing campaigns"}}
        audiences:
          analyst: {{purpose: analytics, schema: analyst, grants: [{ANALYST}], description: "Analysts"}}
          marketing: {{purpose: marketing, schema: marketing, grants: [{MARKETER}], description: "Marketing"}}
        consent:
          relation: "ref('consent_events')"
          subject: customer_id
          purpose: purpose
          granted: granted
          recorded_at: recorded_at
        erasure:
          relation: "ref('deletion_requests')"
          subject: customer_id
          requested_at: requested_at
          request_id: request_id
        retention_tiers:
          orders: 365
        """,
    "policies/tables/users.yml": """
        table: users
        relation: "ref('users')"
        subject: customer_id
        schema:
          - {name: customer_id, type: BIGINT, pii_classification: PSEUDONYMOUS}
          - name: email
            type: STRING
            pii_classification: DIRECT_PII
            data_handling: {allowed_uses: [marketing], masking: {analytics: hash}}
          - name: ip_address
            type: STRING
            pii_classification: QUASI_PII
            data_handling: {masking: {analytics: subnet_only, marketing: redact}}
          - name: zip
            type: STRING
            pii_classification: QUASI_PII
            data_handling: {masking: {analytics: zip3, marketing: zip3}}
          - name: birth_date
            type: DATE
            pii_classification: QUASI_PII
            data_handling: {masking: {analytics: year_only, marketing: year_only}}
          - name: phone
            type: STRING
            pii_classification: DIRECT_PII
            data_handling: {not_allowed: [analytics], masking: {marketing: last4}}
          - {name: signup_at, type: TIMESTAMP, pii_classification: NON_PII}
        """,
    "policies/tables/orders.yml": """
        table: orders
        relation: "ref('orders')"
        subject: {via: customer_id, relation: "ref('users')", key: customer_id}
        event_time: ordered_at
        retention: orders
        schema:
          - {name: order_id, type: BIGINT, pii_classification: NON_PII}
          - {name: customer_id, type: BIGINT, pii_classification: PSEUDONYMOUS,
             data_handling: {masking: {analytics: hash, marketing: drop}}}
          - {name: amount, type: DECIMAL, pii_classification: NON_PII}
          - {name: ordered_at, type: TIMESTAMP, pii_classification: NON_PII}
          - name: card_number
            type: STRING
            pii_classification: DIRECT_PII
            data_handling: {masking: {analytics: last4, marketing: "null"}}
          - name: shipping_zip
            type: STRING
            pii_classification: QUASI_PII
            data_handling: {masking: {analytics: zip3, marketing: redact}}
        """,
    "seeds/users.csv": USERS,
    "seeds/orders.csv": ORDERS,
    "seeds/consent_events.csv": CONSENT,
    "seeds/deletion_requests.csv": DELETIONS,
}


def _profiles(pg_server, dbname: str) -> str:
    info = pg_server.info
    outputs = {"builder": (BUILDER, BASE_SCHEMA), "admin": (info["user"], BASE_SCHEMA)}
    lines = ["pg_shop:", "  target: builder", "  outputs:"]
    for name, (user, schema) in outputs.items():
        lines += [f"    {name}:", "      type: postgres", f"      host: \"{info['host']}\"", f"      port: {info['port']}",
                  f"      user: {user}", "      password: \"\"", f"      dbname: {dbname}", f"      schema: {schema}",
                  "      threads: 2"]
    return "\n".join(lines) + "\n"


def _run(tool: str, args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def shop(pg_server, tmp_path_factory):
    """The project, compiled for postgres, keys installed, seeded and built by the builder role."""
    import os

    dbname = f"veil_e2e_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect(dbname="postgres")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {dbname}")
        for role in (BUILDER, ANALYST, MARKETER):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cur.fetchone() is None:
                cur.execute(f"CREATE ROLE {role} LOGIN")
    admin.close()
    db = pg_server.connect(dbname=dbname)
    with db.cursor() as cur:   # the DBA: the builder owns the schemas, each audience may use only its own
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
        for schema, reader in ((BASE_SCHEMA, None), (ANALYST_SCHEMA, ANALYST), (MARKETING_SCHEMA, MARKETER)):
            cur.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {BUILDER}")
            if reader:
                cur.execute(f"GRANT USAGE ON SCHEMA {schema} TO {reader}")
    root = tmp_path_factory.mktemp("pg_shop")
    write_files(root, {path: textwrap.dedent(text).lstrip() for path, text in FILES.items()})
    (root / "profiles.yml").write_text(_profiles(pg_server, dbname))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_"))}
    env.update(DBT_PROFILES_DIR=str(root), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(root / "logs"),
               VEIL_KEY=TEST_KEY_HEX)
    steps = [("veil", ["compile", "--target", "postgres", "--project-dir", str(root)]),
             ("veil", ["keys", "install", "--target", "admin", "--grant", BUILDER, "--project-dir", str(root)]),
             ("dbt", ["build"])]
    results = {}
    for tool, args in steps:
        result = _run(tool, args, root, env)
        assert result.returncode == 0, f"{tool} {' '.join(args)}:\n{_output(result)}"
        results[f"{tool} {args[0]}"] = result
    yield {"root": root, "env": env, "dbname": dbname, "db": db, "results": results}
    db.close()
    admin = pg_server.connect(dbname="postgres")
    admin.cursor().execute(f"DROP DATABASE {dbname} WITH (FORCE)")
    admin.close()


def test_dbt_build_runs_the_privacy_tests_on_postgres(shop):
    build = shop["results"]["dbt build"].stdout
    for name in ("veil_no_raw_values", "veil_not_erased", "veil_consented", "veil_within_retention"):
        assert f" PASS {name}_analyst__" in build and f" PASS {name}_marketing__" in build, (name, build[-4000:])
    assert "WARN=0 ERROR=0 SKIP=0" in build


def _as(pg_server, shop, role):
    return pg_server.connect(user=role, dbname=shop["dbname"])


def _rows(con, sql, params=None):
    with con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []


def test_keys_install_reports_what_it_did(shop):
    out = shop["results"]["veil keys"].stdout
    assert "installed veil's keys on" in out and BUILDER in out and TEST_KEY_HEX not in out


def test_analyst_reads_its_audience_models(pg_server, shop):
    analyst = _as(pg_server, shop, ANALYST)
    users = _rows(analyst, f"SELECT customer_id, email, ip_address, zip, birth_date FROM {ANALYST_SCHEMA}.analyst__users "
                           "ORDER BY customer_id")
    assert [row[0] for row in users] == [1, 4, 5]      # 2 opted out of analytics, 3 is erased
    assert users[0][2:] == ("192.168.1.0", "021", 1985)
    orders = _rows(analyst, f"SELECT order_id, card_number FROM {ANALYST_SCHEMA}.analyst__orders ORDER BY order_id")
    assert orders == [(10, "XXXXXXXXXXXX1111"), (11, "XXXXXXXXXXXX1111"), (14, "XXXXXXXXXXXX0004"),
                      (15, "XXXXXXXXXXXX1111")]           # 16 is past retention
    analyst.close()


@pytest.mark.parametrize("relation", [f"{BASE_SCHEMA}.users", f"{BASE_SCHEMA}.orders",
                                      f"{MARKETING_SCHEMA}.marketing__users", "veil_private.keys"])
def test_analyst_is_denied_raw_data_the_other_audience_and_the_key(pg_server, shop, relation):
    analyst = _as(pg_server, shop, ANALYST)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        _rows(analyst, f"SELECT * FROM {relation}")
    analyst.close()


def test_analyst_cannot_call_the_keyed_function_without_a_grant(pg_server, shop):
    analyst = _as(pg_server, shop, ANALYST)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        _rows(analyst, "SELECT veil.hmac_sha256('ada@example.com')")
    analyst.close()


def test_postgres_pseudonyms_equal_duckdbs_for_the_same_key(pg_server, shop):
    from veil.duckdb_functions import register_functions

    analyst = _as(pg_server, shop, ANALYST)
    emails = dict(_rows(analyst, f"SELECT customer_id, email FROM {ANALYST_SCHEMA}.analyst__users"))
    customers = dict(_rows(analyst, f"SELECT order_id, customer_id FROM {ANALYST_SCHEMA}.analyst__orders"))
    analyst.close()
    raw_emails = {int(line.split(",")[0]): line.split(",")[1] for line in USERS.splitlines()[1:]}
    raw_customers = {int(line.split(",")[0]): line.split(",")[1] for line in ORDERS.splitlines()[1:]}
    with duckdb.connect() as duck:
        register_hmac(duck, bytes.fromhex(TEST_KEY_HEX))
        for customer, masked in emails.items():
            full = duck.execute("SELECT veil_hmac_sha256(?)", [raw_emails[customer]]).fetchone()[0]
            assert masked == full[:32] and len(masked) == 32
        for order, masked in customers.items():
            full = duck.execute("SELECT veil_hmac_sha256(CAST(? AS BIGINT))", [int(raw_customers[order])]).fetchone()[0]
            assert masked == full[:32]
    with duckdb.connect() as duck:   # and the DuckDB model's own mask gives the same text
        register_functions(duck, bytes.fromhex(TEST_KEY_HEX), {"VEIL_VAULT": str(shop["root"] / "vault.duckdb")})
        assert duck.execute("SELECT VEIL_MASK_HASH(?)", [raw_emails[1]]).fetchone()[0] == emails[1]


def test_no_key_in_target_logs_statements_or_server_log(pg_server, shop):
    from veil.hmac_sql import subject_digest_key

    key = bytes.fromhex(TEST_KEY_HEX)
    secrets_hex = [key.hex(), subject_digest_key(key).hex()]
    root = shop["root"]
    files = [p for p in (root / "target").rglob("*") if p.is_file()] + [root / "logs" / "dbt.log"]
    assert (root / "logs" / "dbt.log").is_file() and len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        for secret in secrets_hex:
            assert secret not in text, path
    statements = "\n".join(q for (q,) in _rows(shop["db"], "SELECT query FROM pg_stat_statements")).lower()
    assert "veil.hmac_sha256" in statements          # the view does hold the builds' statements
    assert wait_for_log(pg_server, "veil_private.keys")
    server_log = pg_server.log_text().lower()
    for secret in secrets_hex:
        assert secret not in statements and secret not in server_log


def test_keys_install_refuses_a_non_superuser_target(shop):
    result = _run("veil", ["keys", "install", "--target", "builder", "--project-dir", str(shop["root"])],
                  shop["root"], shop["env"])
    assert result.returncode == 2 and "needs a superuser" in result.stderr, _output(result)


def test_keys_install_refuses_duckdb_and_a_server_that_is_down(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_"))}
    env.update(VEIL_KEY=TEST_KEY_HEX, DBT_PROFILES_DIR=str(tmp_path))
    write_files(tmp_path, {"dbt_project.yml": "name: p\nversion: '1'\nconfig-version: 2\nprofile: p\n",
                           "profiles.yml": textwrap.dedent(f"""
                               p:
                                 target: dev
                                 outputs:
                                   dev: {{type: duckdb, path: w.duckdb}}
                                   down: {{type: postgres, host: "{tmp_path}/nosocket", port: 5999, user: u,
                                           password: "", dbname: d, schema: s}}
                               """)})
    duck = _run("veil", ["keys", "install", "--project-dir", str(tmp_path)], tmp_path, env)
    assert duck.returncode == 2 and "needs a postgres target" in duck.stderr, _output(duck)
    down = _run("veil", ["keys", "install", "--target", "down", "--project-dir", str(tmp_path)], tmp_path, env)
    assert down.returncode == 2 and "cannot connect to PostgreSQL at" in down.stderr, _output(down)
    assert "Traceback" not in down.stderr + duck.stderr


def test_an_erased_subjects_row_in_a_built_model_fails_veil_not_erased(shop):
    db = shop["db"]
    table = f"{ANALYST_SCHEMA}.analyst__users"
    _rows(db, f"INSERT INTO {table} (customer_id, email) VALUES (%s, 'slipped through')", [ERASED])
    try:
        result = _run("dbt", ["test", "--select", "analyst__users"], shop["root"], shop["env"])
        assert result.returncode == 1, _output(result)
        failed = [line for line in result.stdout.splitlines() if " FAIL " in line]
        assert failed and all("veil_not_erased_analyst__users" in line for line in failed), _output(result)
    finally:
        _rows(db, f"DELETE FROM {table} WHERE customer_id = %s", [ERASED])
    again = _run("dbt", ["test", "--select", "analyst__users"], shop["root"], shop["env"])
    assert again.returncode == 0, _output(again)


@pytest.mark.parametrize(("model", "insert", "params", "test"), [
    ("analyst__users", "(customer_id, email) VALUES (%s, 'opted out')", [2], "veil_consented"),      # 2 opted out
    ("analyst__users", "(customer_id, email) VALUES (%s, %s)", [1, "ada@example.com"], "veil_no_raw_values"),
    ("analyst__orders", "(order_id, customer_id, ordered_at) VALUES (%s, 'x', %s)", [16, "2020-01-01"],
     "veil_within_retention"),
], ids=["consent", "raw value", "retention"])
def test_a_row_that_breaks_a_filter_fails_its_privacy_test_on_postgres(shop, model, insert, params, test):
    """Each generated test catches its own broken filter on PostgreSQL, and only that test fails."""
    db = shop["db"]
    table = f"{ANALYST_SCHEMA}.{model}"
    before = _rows(db, f"SELECT count(*) FROM {table}")[0][0]
    _rows(db, f"INSERT INTO {table} {insert}", params)
    try:
        result = _run("dbt", ["test", "--select", model], shop["root"], shop["env"])
        assert result.returncode == 1, _output(result)
        failed = [line for line in result.stdout.splitlines() if " FAIL " in line]
        assert failed and all(f"{test}_{model}" in line for line in failed), _output(result)
    finally:
        _rows(db, f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} ORDER BY ctid DESC LIMIT 1)")
    assert _rows(db, f"SELECT count(*) FROM {table}")[0][0] == before
