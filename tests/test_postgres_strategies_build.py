"""All twelve masking strategies, end to end: one project built by dbt on PostgreSQL and on DuckDB.

A seed with one column per strategy (`c_<strategy>`) is masked by an analyst
audience; `veil compile --target postgres` accepts it, `veil keys install`
puts the keys on the `pg_server` cluster (by COPY), a non-superuser builder
runs `dbt build` there, and the same project builds on DuckDB under the same
key. Then, per strategy: deterministic masks give the same values on both
engines (`fpe` included, byte for byte); `tokenize` gives DuckDB's format
and tokens the PostgreSQL vault opens; `encrypt` gives ciphertexts veil
opens for their column; `drop` leaves no column. No key in any file, log,
statement or function definition.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import subprocess
import textwrap
import uuid
from pathlib import Path

import duckdb
import pytest
from dbt_runner import BIN
from helpers import write_files
from pg_server import wait_for_log
from test_postgres_strategies import shape

from veil.crypto.field import unseal
from veil.keyring import keyring_from_key
from veil.postgres_reversible import key_rows
from veil.strategies import STRATEGIES

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

BUILDER = "veil_strat_builder"
SCHEMA = "strat"
KEY_HEX = secrets.token_hex(32)      # this module's own key
RING = keyring_from_key(bytes.fromhex(KEY_HEX))
OPTIONS = {"fpe": "{strategy: fpe, keep_last: 4, luhn: invalid}", "tokenize": "{strategy: tokenize, keep_last: 4}",
           "null": '"null"'}
TYPES = {"year_only": ("DATE", "date")}
DETERMINISTIC = sorted(set(STRATEGIES) - {"drop", "tokenize", "encrypt"})

# person_id, then one column per strategy in sorted order (domain_only, drop, encrypt, fpe, hash, last4, null,
# redact, subnet_only, tokenize, year_only, zip3): NULLs, malformed values, Unicode, a repeated card
COLUMNS = sorted(STRATEGIES)
PEOPLE = [
    ["1", "Ada.Example@Example.COM ", "a1", "123-45-6789", "4111-1111-1111-1111", "ada@example.com",
     "123-45-6789", "n1", "secret note", "192.168.1.100", "4111111111111111", "1985-03-14", "02139"],
    ["2", " zoe@mail.example", "a2", "Zoë Müller", "5500 0000 0000 0004", "42", "4111 1111 1111 1111", "n2",
     "x", "2001:db8:85a3::8a2e:370:7334", "5500-0000-0000-0004", "1999-12-31", "03601"],
    ["3", "not-an-email", "a3", "078-05-1120", "12-345", "Zoë Müller", "12345", "n3", "", "garbage",
     "AB-12 zz", "", "ABCDE"],
    ["4", "", "", "", "", "", "", "", "", "", "", "", ""],
    ["5", "erase.me@example.org", "a5", "x", "+1 (555) 010-9999", "erase.me@example.org", "x1y2z3w4v5", "n5",
     "note", " 10.0.0.1 ", "340000000000009", "2001-05-05", "12345-6789"],
    ["6", "a@b@c", "a6", "y", "AB123456", "6011000000000004", "555-987-6543", "n6", "z", "::ffff:10.0.0.1",
     "6011000000000004", "1969-09-09", "89301"],
    ["7", "dee@example.net", "a7", "123-45-6789", "4111-1111-1111-1111", "ada@example.com", "123-45-6789", "n7",
     "secret note", "256.1.1.1", "4111111111111111", "2026-01-01", " 10001 "],
]


def _seed_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["person_id", *(f"c_{s}" for s in COLUMNS)])
    writer.writerows(PEOPLE)
    return out.getvalue()


def _column(strategy: str) -> str:
    policy_type, _ = TYPES.get(strategy, ("STRING", "text"))
    masking = OPTIONS.get(strategy, strategy)
    return (f"  - {{name: c_{strategy}, type: {policy_type}, pii_classification: DIRECT_PII,\n"
            f"     data_handling: {{masking: {{analytics: {masking}}}}}}}\n")


FILES = {
    "dbt_project.yml": """
        name: strat
        version: "1.0.0"
        config-version: 2
        profile: strat
        model-paths: ["models"]
        macro-paths: ["macros"]
        seed-paths: ["seeds"]
        target-path: "target"
        models:
          strat:
            veil:
              +materialized: table
        seeds:
          strat:
            people:
              +column_types: {%s}
        """ % ", ".join(["person_id: bigint", *(f"c_{s}: {TYPES.get(s, ('', 'text'))[1]}" for s in COLUMNS)]),
    "policies/veil.yml": """
        version: 1
        purposes:
          analytics: {consent: none, description: "Analytics"}
        audiences:
          analyst: {purpose: analytics, description: "Analysts"}
        """,
    "policies/tables/people.yml": ("table: people\nrelation: \"ref('people')\"\nsubject: person_id\nschema:\n"
                                   "  - {name: person_id, type: BIGINT, pii_classification: PSEUDONYMOUS}\n"
                                   + "".join(_column(s) for s in COLUMNS)),
    "seeds/people.csv": _seed_csv(),
}


def _profiles(pg_server, dbname: str, duck: Path) -> str:
    info = pg_server.info
    lines = ["strat:", "  target: pg", "  outputs:"]
    for name, user in (("pg", BUILDER), ("admin", info["user"])):
        lines += [f"    {name}:", "      type: postgres", f"      host: \"{info['host']}\"", f"      port: {info['port']}",
                  f"      user: {user}", "      password: \"\"", f"      dbname: {dbname}", f"      schema: {SCHEMA}",
                  "      threads: 2"]
    lines += ["    duck:", "      type: duckdb", f"      path: \"{duck}\"", "      threads: 2",
              "      plugins: [{module: veil.dbt_duckdb}]"]
    return "\n".join(lines) + "\n"


def _run(tool: str, args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def built(pg_server, tmp_path_factory):
    """The project compiled for postgres and built on both engines; yields the masked rows of each."""
    dbname = f"veil_strat_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect(dbname="postgres")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {dbname}")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [BUILDER])
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {BUILDER} LOGIN")
    admin.close()
    db = pg_server.connect(dbname=dbname)
    with db.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
        cur.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {BUILDER}")
    root = tmp_path_factory.mktemp("strat")
    duck = root / "warehouse.duckdb"
    write_files(root, {path: textwrap.dedent(text).lstrip() for path, text in FILES.items()})
    (root / "profiles.yml").write_text(_profiles(pg_server, dbname, duck))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_"))}
    env.update(DBT_PROFILES_DIR=str(root), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(root / "logs"),
               VEIL_KEY=KEY_HEX, VEIL_VAULT=str(root / ".veil" / "vault.duckdb"))
    results = {}
    for label, tool, args in (
            ("compile", "veil", ["compile", "--target", "postgres", "--project-dir", str(root)]),
            ("keys", "veil", ["keys", "install", "--target", "admin", "--grant", BUILDER, "--project-dir", str(root)]),
            ("pg", "dbt", ["build", "--target", "pg"]),
            ("duck", "dbt", ["build", "--target", "duck"])):
        result = _run(tool, args, root, env)
        assert result.returncode == 0, f"{tool} {' '.join(args)}:\n{_output(result)}"
        results[label] = result
    with db.cursor() as cur:
        cur.execute(f"SELECT * FROM {SCHEMA}.analyst__people ORDER BY person_id")
        pg_rows = [dict(zip([d[0] for d in cur.description], row)) for row in cur.fetchall()]
    with duckdb.connect(str(duck), read_only=True) as con:
        result = con.execute("SELECT * FROM analyst__people ORDER BY person_id")
        duck_rows = [dict(zip([d[0] for d in result.description], row)) for row in result.fetchall()]
    yield {"root": root, "db": db, "dbname": dbname, "results": results, "pg": pg_rows, "duck": duck_rows}
    db.close()
    admin = pg_server.connect(dbname="postgres")
    admin.cursor().execute(f"DROP DATABASE {dbname} WITH (FORCE)")
    admin.close()


def raw(strategy: str) -> list[str | None]:
    index = 1 + COLUMNS.index(strategy)
    return [row[index] or None for row in PEOPLE]


def masked(built, engine: str, strategy: str) -> list:
    return [row[f"c_{strategy}"] for row in built[engine]]


def test_both_builds_run_the_privacy_tests_green(built):
    for engine in ("pg", "duck"):
        out = built["results"][engine].stdout
        assert " PASS veil_no_raw_values_analyst__people" in out and "ERROR=0" in out, out[-3000:]
    assert "strategy" not in built["results"]["compile"].stdout + built["results"]["compile"].stderr


@pytest.mark.parametrize("strategy", DETERMINISTIC)
def test_a_deterministic_strategy_masks_the_same_on_postgres_and_duckdb(built, strategy):
    on_pg, on_duck = masked(built, "pg", strategy), masked(built, "duck", strategy)
    assert on_pg == on_duck
    assert [row["person_id"] for row in built["pg"]] == list(range(1, len(PEOPLE) + 1))
    if strategy != "null":
        assert any(v is not None for v in on_pg)
        assert all(m != r for m, r in zip(on_pg, raw(strategy)) if r is not None and m is not None)
    else:
        assert all(v is None for v in on_pg)


def test_drop_leaves_no_column_on_either_engine(built):
    assert all("c_drop" not in row for row in built["pg"] + built["duck"])


def test_fpe_tokens_are_deterministic_and_keep_the_format(built):
    tokens = masked(built, "pg", "fpe")
    assert tokens[0] == tokens[6] and tokens[0][-5:] == "-1111" and len(tokens[0]) == 19
    assert tokens[2] is None and tokens[3] is None and tokens[5] is None   # too short, NULL, letters


def test_tokenize_on_postgres_gives_duckdbs_format_and_tokens_its_vault_opens(pg_server, built):
    from veil.postgres_vault import PostgresVault
    from veil.warehouse.postgres import PostgresWarehouse

    on_pg, on_duck, originals = masked(built, "pg", "tokenize"), masked(built, "duck", "tokenize"), raw("tokenize")
    assert [shape(t) for t in on_pg] == [shape(t) for t in on_duck]
    assert on_pg[0] == on_pg[6] and on_pg[0][-4:] == "1111"
    info = pg_server.info
    warehouse = PostgresWarehouse({"type": "postgres", "host": info["host"], "port": info["port"], "user": BUILDER,
                                   "dbname": built["dbname"], "schema": SCHEMA}, None, read_only=True)
    try:
        vault = PostgresVault(warehouse, RING)
        assert [vault.lookup(t, 4, "invalid") if t else None for t in on_pg] == originals
    finally:
        warehouse.close()


def test_encrypt_on_postgres_gives_ciphertexts_veil_opens_for_their_column(built):
    originals = raw("encrypt")
    for engine, prefix in (("pg", "veil1cbc:encrypt:v1:"), ("duck", "veil1:encrypt:v1:")):
        sealed = masked(built, engine, "encrypt")
        assert all(s.startswith(prefix) for s in sealed if s is not None)
        assert [unseal(RING.by_id, s, "people.c_encrypt") if s else None for s in sealed] == originals


def test_no_key_in_target_logs_statements_server_log_or_pg_proc(pg_server, built):
    materials = [RING.primary(n).material for n in ("hmac", "fpe", "vault", "encrypt")] + list(key_rows(RING).values())
    forms = [f for m in materials for f in (m.hex(), m.hex().upper(), "\\x" + m.hex())] + [KEY_HEX]
    root = built["root"]
    files = [p for p in (root / "target").rglob("*") if p.is_file()] + [root / "logs" / "dbt.log"]
    models = [p for p in (root / "models").rglob("*") if p.is_file()]
    assert len(files) > 10 and models
    for path in files + models:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not any(form in text for form in forms), path
    with built["db"].cursor() as cur:
        cur.execute("SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_statements")
        statements = cur.fetchone()[0]
        cur.execute("SELECT string_agg(prosrc || coalesce(array_to_string(proconfig, ','), ''), E'\\n') FROM pg_proc")
        bodies = cur.fetchone()[0]
    assert "veil.VEIL_MASK_FPE" in statements and "veil.VEIL_MASK_TOKENIZE" in statements
    assert wait_for_log(pg_server, "veil.VEIL_MASK_ENCRYPT")
    log = pg_server.log_text()
    for where, text in (("pg_stat_statements", statements), ("pg_proc", bodies), ("server log", log)):
        assert not any(form in text for form in forms), where
