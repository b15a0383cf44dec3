"""The reference project on PostgreSQL: the Makefile's `demo-postgres` recipe, run against `pg_server`.

The recipe starts no server: it loads the synthetic data into the database of
the `postgres` profile target (VEIL_PG_*), compiles for postgres, installs the
keys as the `postgres_admin` target's superuser and builds as a non-superuser
builder, with the reference project's own policies and generated models. Its
generated privacy tests pass; `fpe`, `hash` and `domain_only` give DuckDB's
values for the same key; `tokenize` tokens open in the PostgreSQL vault;
`encrypt` ciphertexts open for their column; `veil reveal` works through the
warehouse; no key is in any file, log, statement or function definition.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import uuid

import duckdb
import pytest
from dbt_runner import BIN
from helpers import REPO
from pg_server import wait_for_log

from veil.crypto.field import unseal
from veil.crypto.fpe import FormatPreservingCipher
from veil.keyring import keyring_from_key
from veil.postgres_reversible import key_rows

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "pyproject.toml", "Makefile", "policies", "models", "macros")
BUILDER, SCHEMA = "veil_ref_builder", "shop"
KEY_HEX = secrets.token_hex(32)      # this module's own key
RING = keyring_from_key(bytes.fromhex(KEY_HEX))
PRIVACY_TESTS = ("veil_no_raw_values", "veil_not_erased", "veil_consented", "veil_within_retention")


def recipe(target: str) -> list[str]:
    """The shell lines of a Makefile target, with make's variables a test sets."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    steps = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        steps.append(line[1:].replace("$(BIN)", str(BIN)).replace("$(USERS)", "300").replace("$(EVENTS)", "3000")
                     .replace("$$", "$"))
    return steps


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def reference(pg_server, tmp_path_factory):
    dbname = f"veil_ref_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect(dbname="postgres")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {dbname}")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [BUILDER])
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {BUILDER} LOGIN")
        cur.execute(f"GRANT CREATE ON DATABASE {dbname} TO {BUILDER}")   # the loader creates schema raw
    admin.close()
    db = pg_server.connect(dbname=dbname)
    with db.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
        cur.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {BUILDER}")
    root = tmp_path_factory.mktemp("reference_pg")
    for part in PROJECT_PARTS:
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, root / part)
    info = pg_server.info
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DBT_"))}
    env.update(VEIL_PG_HOST=info["host"], VEIL_PG_PORT=str(info["port"]), VEIL_PG_USER=BUILDER,
               VEIL_PG_ADMIN_USER=info["user"], VEIL_PG_DBNAME=dbname, VEIL_PG_SCHEMA=SCHEMA, VEIL_KEY=KEY_HEX,
               DBT_PROFILES_DIR=str(root), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(root / "logs"))
    check = subprocess.run([str(BIN / "veil"), "compile", "--check", "--target", "postgres"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, _output(check)   # the committed models are what postgres builds
    results = []
    for step in recipe("demo-postgres"):
        result = subprocess.run(["bash", "-c", step], cwd=root, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{step}\n{_output(result)}"
        results.append((step, result))
    yield {"root": root, "env": env, "db": db, "dbname": dbname, "results": results}
    db.close()
    admin = pg_server.connect(dbname="postgres")
    admin.cursor().execute(f"DROP DATABASE {dbname} WITH (FORCE)")
    admin.close()


def rows(con, sql):
    with con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def build_output(reference) -> str:
    return next(r.stdout for step, r in reference["results"] if " build " in step)


def test_the_recipe_starts_nothing_and_leaves_publish_and_summary_out():
    steps = recipe("demo-postgres")
    assert len(steps) >= 4 and not any(word in " ".join(steps) for word in ("pg_ctl", "initdb", "docker"))
    assert not any(" publish" in s or " summary" in s for s in steps)


def test_the_reference_project_builds_on_postgres_with_its_privacy_tests_green(reference):
    out = build_output(reference)
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0 SKIP=0", out), out[-3000:]
    for audience in ("analyst", "ml", "support"):
        assert re.search(rf" PASS veil_no_raw_values_{audience}__\w+", out), audience
    for name in PRIVACY_TESTS:
        assert f" PASS {name}_" in out, name
    loaded = dict(rows(reference["db"], "SELECT 'users', count(*) FROM raw.users UNION ALL "
                                        "SELECT 'payments', count(*) FROM raw.payments"))
    assert loaded == {"users": 300, "payments": 600}


def test_fpe_hash_and_domain_only_are_duckdbs_values(reference, tmp_path):
    from veil.duckdb_functions import register_functions

    db = reference["db"]
    cards = dict(rows(db, "SELECT payment_id, card_number FROM raw.payments"))
    masked = rows(db, f"SELECT payment_id, card_number FROM {SCHEMA}.analyst__payments")
    cipher = FormatPreservingCipher(RING.primary("fpe").material)
    assert masked and all(token == cipher.encrypt(cards[pid], keep_last=4, luhn="invalid") for pid, token in masked)
    emails = dict(rows(db, "SELECT user_id, email FROM raw.users"))
    users = rows(db, f"SELECT user_id, email FROM {SCHEMA}.analyst__users")
    devices = rows(db, f"SELECT event_id, device_id FROM {SCHEMA}.analyst__events LIMIT 200")
    raw_devices = dict(rows(db, "SELECT event_id, device_id FROM raw.events"))
    with duckdb.connect() as duck:
        register_functions(duck, bytes.fromhex(KEY_HEX), {"VEIL_VAULT": str(tmp_path / "v.duckdb")})
        for user, email in users:
            assert email == duck.execute("SELECT veil_mask_domain_only(?)", [emails[user]]).fetchone()[0]
        for event, device in devices:
            if raw_devices[event] is not None:
                assert device == duck.execute("SELECT veil_mask_hash(?)", [raw_devices[event]]).fetchone()[0]
    assert users and devices


def test_tokens_open_in_the_postgres_vault_and_ciphertexts_for_their_column(pg_server, reference):
    from veil.postgres_vault import PostgresVault
    from veil.warehouse.postgres import PostgresWarehouse

    db = reference["db"]
    cards = dict(rows(db, "SELECT payment_id, card_number FROM raw.payments"))
    tokens = rows(db, f"SELECT payment_id, card_number FROM {SCHEMA}.ml__payments")
    info = pg_server.info
    warehouse = PostgresWarehouse({"type": "postgres", "host": info["host"], "port": info["port"], "user": BUILDER,
                                   "dbname": reference["dbname"], "schema": SCHEMA}, None, read_only=True)
    try:
        vault = PostgresVault(warehouse, RING)
        assert tokens and all(vault.lookup(t, 4, "invalid") == cards[pid] for pid, t in tokens)
    finally:
        warehouse.close()
    ssns = dict(rows(db, "SELECT user_id, ssn FROM raw.users"))
    sealed = rows(db, f"SELECT user_id, ssn FROM {SCHEMA}.support__users")
    assert sealed and all(unseal(RING.by_id, s, "users.ssn") == ssns[u] for u, s in sealed if s is not None)


def test_veil_reveal_reads_the_postgres_vault_and_source(reference):
    db = reference["db"]
    fpe_pid, fpe_token = rows(db, f"SELECT payment_id, card_number FROM {SCHEMA}.analyst__payments "
                                  "ORDER BY payment_id LIMIT 1")[0]
    vault_pid, vault_token = rows(db, f"SELECT payment_id, card_number FROM {SCHEMA}.ml__payments "
                                      "ORDER BY payment_id LIMIT 1")[0]
    cards = dict(rows(db, "SELECT payment_id, card_number FROM raw.payments"))
    env = dict(reference["env"], DBT_TARGET="postgres")
    result = subprocess.run([str(BIN / "veil"), "reveal", "--audience", "support", "--table", "payments",
                             "--column", "card_number", "--reason", "test: a disputed charge", fpe_token, vault_token],
                            cwd=reference["root"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, _output(result)
    assert result.stdout.split() == [cards[fpe_pid], cards[vault_pid]]
    guess = subprocess.run([str(BIN / "veil"), "reveal", "--audience", "support", "--table", "payments",
                            "--column", "card_number", "--reason", "test", "1234-5678-9012-3456"],
                           cwd=reference["root"], env=env, capture_output=True, text=True, timeout=300)
    assert guess.returncode == 1 and guess.stdout == "" and "Traceback" not in guess.stderr, _output(guess)


def test_no_key_in_target_logs_statements_server_log_or_pg_proc(pg_server, reference):
    materials = [RING.primary(n).material for n in ("hmac", "fpe", "vault", "encrypt")] + list(key_rows(RING).values())
    forms = [f for m in materials for f in (m.hex(), m.hex().upper(), "\\x" + m.hex())] + [KEY_HEX]
    root = reference["root"]
    files = [p for folder in ("target", "logs", "models", "macros") for p in (root / folder).rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not any(form in text for form in forms), path
    statements = rows(reference["db"], "SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_statements")[0][0]
    bodies = rows(reference["db"], "SELECT string_agg(prosrc, E'\\n') FROM pg_proc")[0][0]
    assert "veil.VEIL_MASK_FPE" in statements and wait_for_log(pg_server, "veil.VEIL_MASK_TOKENIZE")
    for where, text in (("pg_stat_statements", statements), ("pg_proc", bodies), ("server log", pg_server.log_text())):
        assert not any(form in text for form in forms), where


# --- erasure reaches the vault the database keeps (last: it changes the data) ---------------------------

def _erase(reference, target: str) -> subprocess.CompletedProcess:
    env = dict(reference["env"], DBT_TARGET=target)
    return subprocess.run([str(BIN / "veil"), "erase"], cwd=reference["root"], env=env, capture_output=True,
                          text=True, timeout=600)


def test_erase_forgets_the_subjects_vault_entries_and_vacuums_the_vault(pg_server, reference):
    from test_postgres_ops import holding, relation_files

    db = reference["db"]
    owner, token = rows(db, f"SELECT p.user_id, m.card_number FROM {SCHEMA}.ml__payments m "
                            "JOIN raw.payments p USING (payment_id) ORDER BY m.payment_id LIMIT 1")[0]
    others = rows(db, f"SELECT m.card_number FROM {SCHEMA}.ml__payments m JOIN raw.payments p USING (payment_id) "
                      f"WHERE p.user_id <> {int(owner)}")
    vault = ["veil_private.vault_tokens", "veil_private.vault_owners"]
    tables = vault + [f"{SCHEMA}.ml__payments"]
    assert holding(relation_files(pg_server, reference["dbname"], tables), token.encode()) == sorted(
        ["veil_private.vault_tokens", f"{SCHEMA}.ml__payments"])   # the control: the token is findable
    entries = rows(db, "SELECT count(*) FROM veil_private.vault_tokens")[0][0]
    with db.cursor() as cur:
        cur.execute("INSERT INTO raw.deletion_requests (request_id, user_id, requested_at) "
                    "SELECT max(request_id) + 1, %s, max(requested_at) FROM raw.deletion_requests", [owner])
    as_builder = _erase(reference, "postgres")   # may not VACUUM FULL veil_keys' tables: refuses to say completed
    assert as_builder.returncode == 2 and "veil_private.vault_tokens" in as_builder.stderr, _output(as_builder)
    assert "may VACUUM FULL" in as_builder.stderr and "Traceback" not in as_builder.stderr
    as_admin = _erase(reference, "postgres_admin")
    assert as_admin.returncode == 0, _output(as_admin)
    assert rows(db, "SELECT count(*) FROM veil_private.vault_tokens WHERE token = %s" % _quote(token)) == [(0,)]
    kept = {t for (t,) in rows(db, "SELECT token FROM veil_private.vault_tokens")}
    assert {t for (t,) in others} <= kept and len(kept) < entries   # everyone else's tokens are all still there
    assert holding(relation_files(pg_server, reference["dbname"], tables), token.encode()) == []


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
