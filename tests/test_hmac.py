"""veil_hmac_sha256 in DuckDB equals HMAC-SHA256 and never shows its key."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.hmac_sql import HMAC_BLOB_FUNCTION, HMAC_FUNCTION, hmac_pads, register_hmac, subject_digest_key

TEST_KEY = bytes.fromhex("0123456789abcdef" * 4)  # an obvious test value, not a secret

# RFC 4231 section 4, test cases 1-7: (key hex, data hex, HMAC-SHA256 hex).
# Case 5's expected value is truncated to 128 bits in the RFC.
RFC_4231 = [
    ("0b" * 20, "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        "4a656665",
        "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    ("aa" * 20, "dd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        "0102030405060708090a0b0c0d0e0f10111213141516171819",
        "cd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    ("0c" * 20, "546573742057697468205472756e636174696f6e", "a3b6167473100ee06e0c796c2955552b"),
    (
        "aa" * 131,
        "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "aa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. "
        b"The key needs to be hashed before being used by the HMAC algorithm.".hex(),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def python_hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


@pytest.mark.parametrize("key_hex, data_hex, expected", RFC_4231, ids=[f"case{i}" for i in range(1, 8)])
def test_rfc_4231_vectors(conn, key_hex, data_hex, expected):
    register_hmac(conn, bytes.fromhex(key_hex))
    (digest,) = conn.execute(f"SELECT {HMAC_BLOB_FUNCTION}(unhex(?))", [data_hex]).fetchone()
    assert digest[: len(expected)] == expected


def test_rfc_4231_text_cases_through_the_varchar_function(conn):
    key_hex, data_hex, expected = RFC_4231[1]
    register_hmac(conn, bytes.fromhex(key_hex))
    assert conn.execute(f"SELECT {HMAC_FUNCTION}(?)", [bytes.fromhex(data_hex).decode()]).fetchone()[0] == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=0, max_size=200), messages=st.lists(st.text(), min_size=1, max_size=20))
def test_equals_python_hmac(conn, key, messages):
    register_hmac(conn, key)
    rows = conn.execute(
        f"SELECT m, {HMAC_FUNCTION}(m) FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(m, i) ORDER BY i", [messages]
    ).fetchall()
    assert [digest for _, digest in rows] == [python_hmac(key, m) for m in messages]


def test_null_in_null_out_and_non_text_is_cast(conn):
    register_hmac(conn, TEST_KEY)
    null, number, day = conn.execute(
        f"SELECT {HMAC_FUNCTION}(NULL), {HMAC_FUNCTION}(42), {HMAC_FUNCTION}(DATE '2024-01-31')"
    ).fetchone()
    assert null is None
    assert number == python_hmac(TEST_KEY, "42")
    assert day == python_hmac(TEST_KEY, "2024-01-31")


def test_output_is_64_lowercase_hex(conn):
    register_hmac(conn, TEST_KEY)
    (digest,) = conn.execute(f"SELECT {HMAC_FUNCTION}('Alice@Example.com')").fetchone()
    assert len(digest) == 64 and digest == digest.lower() and int(digest, 16) >= 0


def test_registering_again_replaces_the_key(conn):
    register_hmac(conn, TEST_KEY)
    register_hmac(conn, TEST_KEY)
    other = bytes(range(32))
    register_hmac(conn, other)
    assert conn.execute(f"SELECT {HMAC_FUNCTION}('x')").fetchone()[0] == python_hmac(other, "x")


def test_a_user_table_named_like_the_key_table_is_ignored(conn):
    conn.execute("CREATE TABLE veil_hmac_key (ipad BLOB, opad BLOB)")
    conn.execute("INSERT INTO veil_hmac_key VALUES ('\\x00'::BLOB, '\\x00'::BLOB)")
    register_hmac(conn, TEST_KEY)
    assert conn.execute(f"SELECT {HMAC_FUNCTION}('x')").fetchone()[0] == python_hmac(TEST_KEY, "x")


def test_without_a_key_using_the_function_fails_clearly(conn):
    register_hmac(conn, None)
    assert conn.execute("SELECT 42").fetchone() == (42,)
    with pytest.raises(duckdb.Error, match="VEIL_KEY or VEIL_KEY_FILE"):
        conn.execute(f"SELECT 'user_' || substring({HMAC_FUNCTION}('a@b.c'), 1, 16)").fetchall()
    with pytest.raises(duckdb.Error, match="VEIL_KEY"):
        conn.execute(f"SELECT {HMAC_FUNCTION}(NULL)").fetchall()


def test_unregistering_the_key_drops_it(conn):
    register_hmac(conn, TEST_KEY)
    register_hmac(conn, None)
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'veil_hmac_key'").fetchone() == (0,)
    with pytest.raises(duckdb.Error, match="VEIL_KEY"):
        conn.execute(f"SELECT {HMAC_FUNCTION}('x')").fetchall()


def test_no_key_material_is_readable_from_sql(conn):
    """The key lives in the UDF's closure: no table, view, macro or setting holds it or its pads."""
    key = bytes.fromhex("fedcba9876543210" * 4)  # test value
    register_hmac(conn, key)
    ipad, opad = hmac_pads(key)
    secrets = [key, ipad, opad, subject_digest_key(key)]
    as_text = {form for secret in secrets for form in (secret.hex(), secret.hex().upper(), secret.decode("latin-1"))}
    catalog = conn.execute(
        "SELECT coalesce(macro_definition, '') FROM duckdb_functions() WHERE function_name LIKE 'veil%'"
        " UNION ALL SELECT sql FROM duckdb_tables() UNION ALL SELECT sql FROM duckdb_views()"
        " UNION ALL SELECT coalesce(CAST(value AS VARCHAR), '') FROM duckdb_settings()").fetchall()
    assert conn.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    for (text,) in catalog:
        assert not any(secret in text for secret in as_text)
    assert conn.execute(f"SELECT {HMAC_FUNCTION}('x')").fetchone()[0] == python_hmac(key, "x")


def test_subject_digests_are_not_pseudonyms(conn):
    register_hmac(conn, TEST_KEY)
    pseudonym, digest = conn.execute(f"SELECT {HMAC_FUNCTION}(42), veil_subject_digest(42)").fetchone()
    assert pseudonym == python_hmac(TEST_KEY, "42")
    assert digest == python_hmac(subject_digest_key(TEST_KEY), "42") and digest[:32] != pseudonym[:32]
