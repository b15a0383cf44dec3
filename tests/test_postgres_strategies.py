"""The reversible strategies on PostgreSQL: FF1 and `fpe` equal DuckDB's byte for byte, `tokenize` keeps
DuckDB's format and vault semantics, `encrypt` opens in Python, and no key reaches any SQL text.

Everything runs on the shared `pg_server` under a key made for this module and
installed by COPY (`veil.postgres_reversible`), so a key hit in a log can only
come from here; the NIST FF1 keys (public) reach the server by COPY too.
"""

from __future__ import annotations

import doctest
import io
import secrets
import uuid

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_server import wait_for_log
from test_ff1 import NIST_SAMPLES

import veil.crypto.envelope
import veil.postgres_plpgsql
import veil.postgres_reversible
import veil.postgres_vault
from veil.crypto import envelope
from veil.crypto.ff1 import FF1
from veil.crypto.field import unseal
from veil.crypto.fpe import FormatPreservingCipher, luhn_residue
from veil.errors import DecryptionError
from veil.keyring import DataKey, keyring_from_key
from veil.postgres_keys import install_keyring
from veil.postgres_reversible import FUNCTIONS, install_reversible, key_rows
from veil.postgres_vault import PostgresVault
from veil.vault import owner_key, random_token

pytestmark = pytest.mark.postgres

BUILDER, OUTSIDER = "veil_rev_builder", "veil_rev_outsider"
KEY = secrets.token_bytes(32)          # this module's own: never the key other tests look for
RING = keyring_from_key(KEY)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def db(pg_server):
    """A database of its own, the keys installed for the builder; yields (admin connection, name)."""
    name = f"veil_rev_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect(dbname="postgres")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
        for role in (BUILDER, OUTSIDER):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cur.fetchone() is None:
                cur.execute(f"CREATE ROLE {role} LOGIN")
    con = pg_server.connect(dbname=name)
    with con.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
    install_keyring(con, RING, grant_to=[BUILDER])
    install_reversible(con, RING, grant_to=[BUILDER])
    yield con, name
    con.close()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="module")
def builder(pg_server, db):
    con = pg_server.connect(user=BUILDER, dbname=db[1])
    yield con
    con.close()


def rows(con, sql, params=None):
    with con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []


def one(con, sql, params=None):
    return rows(con, sql, params)[0][0]


def copy_keys(con, table: str, keys: dict[str, bytes]) -> None:
    """A TEMP table of (name, k) filled by COPY: keys never written into a statement."""
    with con.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (name text PRIMARY KEY, k bytea)")
        cur.execute(f"TRUNCATE {table}")
        body = "".join(f"{name},\\x{key.hex()}\n" for name, key in keys.items())
        cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", io.StringIO(body))


# --- FF1 and fpe: DuckDB's bytes -------------------------------------------------


@pytest.mark.parametrize("key_hex, radix, tweak_hex, plaintext, expected",
                         [s for s in NIST_SAMPLES if s[1] == 10])
def test_ff1_on_postgres_gives_the_nist_samples(db, key_hex, radix, tweak_hex, plaintext, expected):
    con, _ = db
    copy_keys(con, "nist_keys", {"sample": bytes.fromhex(key_hex)})
    got = one(con, "SELECT veil_private.ff1_encrypt(k, %s, decode(%s, 'hex')) FROM nist_keys", [plaintext, tweak_hex])
    assert got == expected


@FAST
@given(digits=st.text("0123456789", min_size=6, max_size=90), tweak=st.binary(max_size=40))
def test_ff1_on_postgres_equals_python_for_long_values_and_tweaks(db, digits, tweak):
    """Past the NIST samples: S longer than one block (v > 28 digits), Q of several blocks."""
    con, _ = db
    copy_keys(con, "ff1_keys", {"k": KEY})
    got = one(con, "SELECT veil_private.ff1_encrypt(k, %s, %s) FROM ff1_keys", [digits, tweak])
    assert got == FF1(KEY).encrypt(digits, tweak)


SEPARATED = st.text("0123456789 -.()+/", max_size=30)
CARDS = st.text("0123456789", min_size=12, max_size=19)
ANY_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=24)
VALUES = st.one_of(SEPARATED, CARDS, ANY_TEXT, st.sampled_from(
    ["4111-1111-1111-1111", "Zoë 1234567890", "١٢٣٤٥٦٧٨", "+1 (555) 010-9999", "AB123456", "", "12-345"]))


@FAST
@given(values=st.lists(VALUES, min_size=1, max_size=12), keep_last=st.integers(0, 6),
       luhn=st.sampled_from(["any", "valid", "invalid"]))
def test_fpe_on_postgres_is_byte_identical_to_duckdb(builder, values, keep_last, luhn):
    got = [v for (v,) in rows(builder, "SELECT veil.veil_mask_fpe(v, %s, %s) FROM unnest(%s::text[]) "
                                       "WITH ORDINALITY AS u(v, i) ORDER BY i", [keep_last, luhn, values])]
    cipher = FormatPreservingCipher(RING.primary("fpe").material)
    assert got == [cipher.encrypt(v, keep_last=keep_last, luhn=luhn) for v in values]


def test_fpe_of_null_is_null_and_bad_options_are_errors(builder):
    assert one(builder, "SELECT veil.veil_mask_fpe(NULL, 4, 'invalid')") is None
    with pytest.raises(psycopg2.errors.RaiseException, match="luhn must be one of"):
        one(builder, "SELECT veil.veil_mask_fpe('4111111111111111', 4, 'maybe')")


# --- tokenize: DuckDB's format and vault -----------------------------------------


def kept_places(value: str, keep_last: int) -> list[int]:
    digits = [i for i, c in enumerate(value) if c.isdigit() and c.isascii()]
    return digits[len(digits) - keep_last:] if keep_last else []


def shape(token: str | None) -> tuple | None:
    if token is None:
        return None
    return tuple("9" if c in "0123456789" else "A" if "A" <= c <= "Z" else "a" if "a" <= c <= "z" else c
                 for c in token)


def token_digits(token: str, value: str) -> str:
    return "".join(t for t, v in zip(token, value) if v.isdigit())


@FAST
@given(value=VALUES, keep_last=st.integers(0, 6), luhn=st.sampled_from(["any", "valid", "invalid"]))
def test_postgres_tokens_have_duckdbs_format(db, value, keep_last, luhn):
    con, _ = db
    token = one(con, "SELECT veil_private.random_token(%s, %s, %s)", [value, keep_last, luhn])
    python = random_token(value, keep_last, luhn)
    assert shape(token) == shape(python)
    if token is None:
        return
    assert all(token[i] == value[i] for i in kept_places(value, keep_last))
    if luhn != "any" and any(c.isdigit() and c.isascii() for i, c in enumerate(value)
                             if i not in kept_places(value, keep_last)):
        assert luhn_residue(token_digits(token, value)) == luhn_residue(token_digits(python, value))


def test_tokenize_returns_a_values_token_again_and_records_its_owners(db, builder):
    con, _ = db
    first = one(builder, "SELECT veil.veil_mask_tokenize('4111-1111-1111-1111', 4, 'invalid', '1')")
    again = one(builder, "SELECT veil.veil_mask_tokenize('4111-1111-1111-1111', 4, 'invalid', '2')")
    other_rule = one(builder, "SELECT veil.veil_mask_tokenize('4111-1111-1111-1111', 0, 'any', NULL)")
    assert first == again != other_rule and first.endswith("-1111") and len(first) == 19
    assert luhn_residue(first.replace("-", "")) == (luhn_residue("4111111111111111") + 1) % 10
    assert one(builder, "SELECT veil.veil_mask_tokenize(NULL, 4, 'invalid', '1')") is None
    assert one(builder, "SELECT veil.veil_mask_tokenize('', 4, 'invalid', '1')") is None
    import hmac

    owners = {o for (o,) in rows(con, "SELECT o.owner FROM veil_private.vault_owners o JOIN veil_private.vault_tokens t "
                                      "USING (fingerprint) WHERE t.token = %s", [first])}
    assert owners == {hmac.new(owner_key(RING), s.encode(), "sha256").hexdigest() for s in ("1", "2")}


def test_the_postgres_vault_opens_in_python_and_forgets_erased_subjects(pg_server, db, builder):
    from veil.warehouse.postgres import PostgresWarehouse

    value, shared = "5500 0000 0000 0004", "6011000000000004"
    token = one(builder, "SELECT veil.veil_mask_tokenize(%s, 4, 'invalid', '7')", [value])
    shared_token = one(builder, "SELECT veil.veil_mask_tokenize(%s, 4, 'invalid', '7')", [shared])
    assert one(builder, "SELECT veil.veil_mask_tokenize(%s, 4, 'invalid', '8')", [shared]) == shared_token
    info = pg_server.info
    warehouse = PostgresWarehouse({"type": "postgres", "host": info["host"], "port": info["port"],
                                   "user": BUILDER, "dbname": db[1], "schema": "public"}, None, read_only=True)
    try:
        vault = PostgresVault(warehouse, RING)
        assert vault.lookup(token, 4, "invalid") == value
        assert vault.lookup(token, 0, "any") is None            # another rule's options: not its token
        assert vault.lookup("9999 9999 9999 0004", 4, "invalid") is None
    finally:
        warehouse.close()
    writer = PostgresWarehouse({"type": "postgres", "host": info["host"], "port": info["port"], "user": BUILDER,
                                "dbname": db[1], "schema": "public"}, None)
    try:
        vault = PostgresVault(writer, RING)
        assert vault.forget_subjects(["7"]) == {"7": 2}
        assert vault.lookup(token, 4, "invalid") is None        # only 7 owned it: gone
        assert vault.lookup(shared_token, 4, "invalid") == shared   # 8 still owns it
        assert vault.forget_subjects(["8", "8"]) == {"8": 1} and vault.lookup(shared_token, 4, "invalid") is None
    finally:
        writer.close()


def test_the_postgres_vault_has_the_erasure_methods_of_duckdbs(pg_server, db, builder):
    from veil.warehouse.postgres import PostgresWarehouse

    legacy, owned = "3530111333300000", "3566002020360505"
    legacy_token = one(builder, "SELECT veil.veil_mask_tokenize(%s, 4, 'invalid', NULL)", [legacy])
    owned_token = one(builder, "SELECT veil.veil_mask_tokenize(%s, 4, 'invalid', '21')", [owned])
    info = pg_server.info
    warehouse = PostgresWarehouse({"type": "postgres", "host": info["host"], "port": info["port"], "user": BUILDER,
                                   "dbname": db[1], "schema": "public"}, None)
    try:
        vault = PostgresVault(warehouse, RING)
        prints = {"21": [vault.fingerprint(legacy, 4, "invalid"), vault.fingerprint(owned, 4, "invalid")]}
        assert vault.count_owned(["21", "22"]) == {"21": 1}
        assert vault.count_fingerprints(prints) == {"21": 2}
        assert vault.count_fingerprints(prints, only_ownerless=True) == {"21": 1}
        assert vault.forget(prints["21"], only_ownerless=True) == 1      # the legacy entry, not the owned one
        assert vault.lookup(legacy_token, 4, "invalid") is None and vault.lookup(owned_token, 4, "invalid") == owned
        assert vault.forget(prints["21"]) == 1 and vault.count_owned(["21"]) == {}
        assert vault.forget([]) == 0 and vault.count_fingerprints({}) == {} and vault.count_owned([]) == {}
    finally:
        warehouse.close()


def test_a_crowded_token_space_gives_distinct_tokens_never_the_value(builder):
    values = [str(d) for d in range(9)]    # one digit each: ten tokens for nine values
    tokens = [one(builder, "SELECT veil.veil_mask_tokenize(%s, 0, 'any', NULL)", [v]) for v in values]
    issued = [t for t in tokens if t is not None]
    assert len(set(issued)) == len(issued) >= 7
    assert all(t != v for v, t in zip(values, tokens))


# --- encrypt: the envelope --------------------------------------------------------


def test_postgres_ciphertexts_open_in_python_for_their_column_only(builder):
    sealed = one(builder, "SELECT veil.veil_mask_encrypt(%s, 'users.ssn')", ["123-45-6789 Zoë"])
    twice = one(builder, "SELECT veil.veil_mask_encrypt(%s, 'users.ssn')", ["123-45-6789 Zoë"])
    assert sealed.startswith("veil1cbc:encrypt:v1:") and sealed != twice       # a random IV per value
    assert unseal(RING.by_id, sealed, "users.ssn") == "123-45-6789 Zoë"
    with pytest.raises(DecryptionError, match="altered"):
        unseal(RING.by_id, sealed, "users.email")
    prefix, name, version, iv, ciphertext, tag = sealed.split(":")
    flipped = ciphertext[:-2] + ("A" if ciphertext[-2] != "A" else "B") + ciphertext[-1]
    for forged in (":".join([prefix, name, version, iv, flipped, tag]),
                   ":".join([prefix, "vault", version, iv, ciphertext, tag])):
        with pytest.raises(DecryptionError):
            unseal(RING.by_id, forged, "users.ssn")
    assert one(builder, "SELECT veil.veil_mask_encrypt(NULL, 'users.ssn')") is None


def test_the_envelope_in_python_round_trips_and_refuses_what_it_did_not_seal():
    key = DataKey("encrypt", 3, bytes(range(32)))
    for text in ("", "x", "0123456789abcdef", "Zoë " * 40):
        sealed = envelope.seal(key, text, "t.c")
        assert envelope.unseal(lambda key_id: key, sealed, "t.c") == text
    assert envelope.seal(key, "x", "t.c", iv=bytes(16)) == envelope.seal(key, "x", "t.c", iv=bytes(16))
    for broken in ("veil1cbc:encrypt:v3:!!:AA:AA", "veil1cbc:encrypt:v3:" + ":".join(["AAAA"] * 3), "veil1cbc:x"):
        with pytest.raises(DecryptionError):
            envelope.unseal(lambda key_id: key, broken, "t.c")


# --- no key in any SQL text; who may do what --------------------------------------


def _forms(material: bytes) -> list[str]:
    return [material.hex(), material.hex().upper(), "\\x" + material.hex()]


def test_no_reversible_key_in_statements_activity_log_or_function_definitions(pg_server, db, builder):
    con, _ = db
    one(builder, "SELECT veil.veil_mask_fpe('4111111111111111', 4, 'invalid')")
    one(builder, "SELECT veil.veil_mask_encrypt('leak-check', 'users.ssn')")
    one(builder, "SELECT veil.veil_mask_tokenize('leak-check-42', 0, 'any', '9')")
    marker = "bound-" + secrets.token_hex(8)
    one(con, "SELECT %s::text", [marker])
    assert wait_for_log(pg_server, marker), "log_statement=all does not log what it should: the check proves nothing"
    assert bytes(one(con, "SELECT material FROM veil_private.keys WHERE name = 'fpe'")) == RING.primary("fpe").material
    statements = one(con, "SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_statements")
    activity = one(con, "SELECT coalesce(string_agg(query, E'\\n'), '') FROM pg_stat_activity")
    bodies = one(con, "SELECT string_agg(prosrc || coalesce(array_to_string(proconfig, ','), ''), E'\\n') FROM pg_proc")
    assert "COPY veil_private.keys" in statements and "veil.veil_mask_fpe" in statements
    log = pg_server.log_text()
    materials = list(key_rows(RING).values()) + [RING.primary(n).material for n in ("fpe", "vault", "encrypt")]
    for material in materials:
        for form in _forms(material):
            for where, text in (("pg_stat_statements", statements), ("pg_stat_activity", activity),
                                ("server log", log), ("pg_proc", bodies)):
                assert form not in text, f"key material in {where}"


def test_the_builder_calls_the_functions_but_reads_no_key_vault_or_helper(pg_server, db, builder):
    for sql in ("SELECT * FROM veil_private.vault_tokens", "SELECT * FROM veil_private.vault_owners",
                "SELECT veil_private.random_token('1234', 0, 'any')",
                "DELETE FROM veil_private.vault_tokens",
                "CREATE OR REPLACE FUNCTION veil.veil_mask_fpe(v text, k integer, l text) RETURNS text "
                "LANGUAGE sql AS $$ SELECT v $$"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            one(builder, sql)
    outsider = pg_server.connect(user=OUTSIDER, dbname=db[1])
    try:
        for call in ("veil.veil_mask_fpe('4111111111111111', 4, 'invalid')", "veil.vault_entry('x')",
                     "veil.veil_mask_encrypt('x', 't.c')"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
                one(outsider, f"SELECT {call}")
    finally:
        outsider.close()


def test_the_functions_are_pinned_security_definers_owned_by_veil_keys(db):
    con, _ = db
    found = rows(con, "SELECT n.nspname || '.' || p.proname, p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig, "
                      "has_function_privilege('public', p.oid, 'EXECUTE') FROM pg_proc p "
                      "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('veil', 'veil_private')")
    by_name = {name: rest for name, *rest in found}
    assert set(FUNCTIONS) <= set(by_name)
    for name, (definer, owner, config, public) in by_name.items():
        assert owner == "veil_keys" and not public, name
        if name.startswith("veil."):
            assert definer and config == ["search_path=pg_catalog, veil_private"], name
        else:
            assert not definer and config == ["search_path=pg_catalog"], name   # run by the definers above


def test_missing_keys_are_a_clear_error(db):
    con, _ = db
    with con.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("DELETE FROM veil_private.keys WHERE name = 'fpe'")
        with pytest.raises(psycopg2.Error, match="reversible strategies' keys are not installed"):
            cur.execute("SELECT veil.veil_mask_fpe('4111111111111111', 4, 'invalid')")
        cur.execute("ROLLBACK")


def test_a_reinstall_keeps_the_vault_and_rekeys(db, builder):
    con, _ = db
    token = one(builder, "SELECT veil.veil_mask_tokenize('378282246310005', 4, 'invalid', '3')")
    install_reversible(con, RING, grant_to=[BUILDER])
    assert one(builder, "SELECT veil.veil_mask_tokenize('378282246310005', 4, 'invalid', '3')") == token


def test_docstring_examples():
    for module in (veil.crypto.envelope, veil.postgres_plpgsql, veil.postgres_reversible, veil.postgres_vault):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
