"""veil's keyed functions on PostgreSQL: DuckDB's outputs, and the key in no SQL text, log, view or catalog."""

from __future__ import annotations

import doctest
import secrets

import duckdb
import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_server import wait_for_log
from test_hmac import RFC_4231, TEST_KEY

import veil.postgres_keys
from veil.hmac_sql import hmac_pads, register_hmac, subject_digest_key
from veil.keyring import keyring_from_key
from veil.postgres_keys import install_keyring, install_keys

pytestmark = pytest.mark.postgres

DATABASE = "veil_keys_test"
BUILDER, OUTSIDER, NOSCHEMA = "veil_builder", "veil_outsider", "veil_noschema"


@pytest.fixture(scope="module")
def keys_db(pg_server):
    """A database of its own (the warehouse tests use veil_test) with a builder and two roles without EXECUTE."""
    admin = pg_server.connect(dbname="postgres")
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cur.execute(f"CREATE DATABASE {DATABASE}")
        for role in (BUILDER, OUTSIDER, NOSCHEMA):
            cur.execute(f"DROP ROLE IF EXISTS {role}")
            cur.execute(f"CREATE ROLE {role} LOGIN")
    admin.close()
    con = pg_server.connect(dbname=DATABASE)
    install_keys(con, TEST_KEY, grant_to=[BUILDER])
    with con.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute(f"GRANT USAGE ON SCHEMA veil TO {OUTSIDER}")   # the schema but not the functions
    yield con
    con.close()


@pytest.fixture
def pg(keys_db):
    """The admin connection, with TEST_KEY installed."""
    install_keys(keys_db, TEST_KEY, grant_to=[BUILDER])
    return keys_db


@pytest.fixture(scope="module")
def duck():
    with duckdb.connect() as con:
        register_hmac(con, TEST_KEY)
        yield con


def one(con, sql, params=None):
    with con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def run(con, sql, params=None):
    with con.cursor() as cur:
        cur.execute(sql, params)


def connect_as(pg_server, role):
    return pg_server.connect(user=role, dbname=DATABASE)


@pytest.mark.parametrize("key_hex, data_hex, expected", RFC_4231, ids=[f"case{i}" for i in range(1, 8)])
def test_rfc_4231_vectors_through_the_blob_function(keys_db, key_hex, data_hex, expected):
    install_keys(keys_db, bytes.fromhex(key_hex))
    digest = one(keys_db, "SELECT veil.hmac_sha256_blob(%s)", [psycopg2.Binary(bytes.fromhex(data_hex))])
    assert digest[: len(expected)] == expected


def test_rfc_4231_text_case_through_the_text_function(keys_db):
    key_hex, data_hex, expected = RFC_4231[1]
    install_keys(keys_db, bytes.fromhex(key_hex))
    assert one(keys_db, "SELECT veil.hmac_sha256(%s)", [bytes.fromhex(data_hex).decode()]) == expected


PG_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(PG_TEXT, min_size=1, max_size=20))
def test_text_functions_equal_duckdb(pg, duck, messages):
    rows = duck.execute("SELECT veil_hmac_sha256(m), veil_subject_digest(m) "
                        "FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(m, i) ORDER BY i", [messages]).fetchall()
    with pg.cursor() as cur:
        cur.execute("SELECT veil.hmac_sha256(m), veil.subject_digest(m) "
                    "FROM unnest(%s::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i", [messages])
        assert cur.fetchall() == rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300))
def test_blob_function_equals_duckdb(pg, duck, blob):
    expected = duck.execute("SELECT veil_hmac_sha256_blob(?::BLOB)", [blob]).fetchone()[0]
    assert one(pg, "SELECT veil.hmac_sha256_blob(%s)", [psycopg2.Binary(blob)]) == expected


def test_fixed_unicode_values_and_null(pg, duck):
    values = ["", "abc", "Zoë", "東京", "🙂 emoji", "a'b\"c\\d", "line\nbreak", "12345"]
    for value in values:
        for duck_fn, pg_fn in veil.postgres_keys.FUNCTIONS.items():
            if duck_fn.endswith("_blob"):
                continue
            assert one(pg, f"SELECT {pg_fn}(%s)", [value]) == duck.execute(f"SELECT {duck_fn}(?)", [value]).fetchone()[0]
    assert one(pg, "SELECT veil.hmac_sha256(NULL)") is None
    assert one(pg, "SELECT veil.hmac_sha256(12345::text)") == duck.execute("SELECT veil_hmac_sha256(12345)").fetchone()[0]


def test_install_from_a_keyring_uses_its_primary_hmac_key(keys_db, duck):
    install_keyring(keys_db, keyring_from_key(TEST_KEY), grant_to=[BUILDER])
    assert one(keys_db, "SELECT veil.hmac_sha256('x')") == duck.execute("SELECT veil_hmac_sha256('x')").fetchone()[0]


def test_missing_key_is_a_clear_error(pg):
    with pg.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("DELETE FROM veil_private.keys")
        with pytest.raises(psycopg2.Error, match="no key is installed"):
            cur.execute("SELECT veil.hmac_sha256('x')")
        cur.execute("ROLLBACK")


def _forms(material: bytes) -> list[str]:
    """Ways a key could show up in text: hex (both cases), bytea escapes."""
    return [material.hex(), material.hex().upper(), "\\x" + material.hex()]


def test_the_key_appears_in_no_sql_text_log_view_or_catalog(pg_server, keys_db):
    key = secrets.token_bytes(32)   # fresh, so a hit can only come from this install
    secrets_ = [key, subject_digest_key(key), *hmac_pads(key), *hmac_pads(subject_digest_key(key))]
    one(keys_db, "SELECT pg_stat_statements_reset()")
    install_keys(keys_db, key, grant_to=[BUILDER])
    builder = connect_as(pg_server, BUILDER)
    digest = one(builder, "SELECT veil.hmac_sha256('leak-check')")
    one(builder, "SELECT veil.subject_digest('leak-check')")
    assert digest == __import__("hmac").new(key, b"leak-check", "sha256").hexdigest()
    # controls: the key is really in the table, and the log does record what a statement binds
    assert bytes(one(keys_db, "SELECT material FROM veil_private.keys WHERE name = 'hmac'")) == key
    marker = "bound-" + secrets.token_hex(8)
    one(keys_db, "SELECT %s::text", [marker])
    assert wait_for_log(pg_server, marker), "log_statement=all does not log what it should: the check proves nothing"

    with keys_db.cursor() as cur:
        cur.execute("SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_statements")
        statements = cur.fetchone()[0]
        cur.execute("SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_activity")
        activity = cur.fetchone()[0]
        cur.execute("SELECT string_agg(prosrc || coalesce(array_to_string(proconfig, ','), ''), E'\\n') FROM pg_proc")
        bodies = cur.fetchone()[0]
    assert "COPY veil_private.keys" in statements and "veil.hmac_sha256" in statements
    assert "COPY veil_private.keys" in pg_server.log_text()
    log = pg_server.log_text()
    for material in secrets_:
        for form in _forms(material):
            for where, text in (("pg_stat_statements", statements), ("pg_stat_activity", activity),
                                ("server log", log), ("pg_proc", bodies)):
                assert form not in text, f"key material in {where}"
    builder.close()


def test_a_role_without_execute_is_denied(pg_server, pg):
    outsider = connect_as(pg_server, OUTSIDER)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied for function hmac_sha256"):
        one(outsider, "SELECT veil.hmac_sha256('x')")
    outsider.close()
    noschema = connect_as(pg_server, NOSCHEMA)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied for schema veil"):
        one(noschema, "SELECT veil.subject_digest('x')")
    noschema.close()


def test_a_builder_calls_the_function_but_cannot_read_or_replace_the_key(pg_server, pg, duck):
    builder = connect_as(pg_server, BUILDER)
    assert one(builder, "SELECT veil.hmac_sha256('abc')") == duck.execute("SELECT veil_hmac_sha256('abc')").fetchone()[0]
    for sql in ("SELECT material FROM veil_private.keys",
                "UPDATE veil_private.keys SET material = '\\x00'",
                "CREATE OR REPLACE FUNCTION veil.hmac_sha256(x text) RETURNS text LANGUAGE sql AS $$ SELECT x $$"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            one(builder, sql)
    assert one(builder, "SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'veil_private' "
                        "AND c.relname = 'keys'") is False
    builder.close()


def test_the_table_is_denied_even_to_a_role_given_the_private_schema(pg_server, pg):
    """Two locks: a misgranted USAGE on veil_private still leaves the table's own REVOKE."""
    run(pg, f"GRANT USAGE ON SCHEMA veil_private TO {OUTSIDER}")
    try:
        outsider = connect_as(pg_server, OUTSIDER)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied for table keys"):
            one(outsider, "SELECT material FROM veil_private.keys")
        outsider.close()
    finally:
        run(pg, f"REVOKE USAGE ON SCHEMA veil_private FROM {OUTSIDER}")


def test_the_functions_are_pinned_security_definers_owned_by_veil_keys(pg):
    with pg.cursor() as cur:
        cur.execute("SELECT p.proname, p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'veil' ORDER BY 1")
        rows = cur.fetchall()
    assert [name for name, *_ in rows] == ["hmac_sha256", "hmac_sha256_blob", "subject_digest"]
    for _name, definer, owner, config in rows:
        assert definer and owner == "veil_keys" and config == ["search_path=pg_catalog, veil_private"]


def test_docstring_examples():
    assert doctest.testmod(veil.postgres_keys).failed == 0
