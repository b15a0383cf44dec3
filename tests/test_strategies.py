"""Masking strategies, run in DuckDB against exact examples and Python oracles."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from veil.hmac_sql import register_hmac
from veil.strategies import HMAC_FUNCTION, STRATEGIES, MaskContext, get_strategy
from veil.strategies.text import RESTRICTED_ZIP3
from veil.types import ColumnType, TypeFamily

TEST_KEY = bytes.fromhex("0123456789abcdef" * 4)  # an obvious test value, not a secret
POSIX_SPACE = " \t\n\v\f\r"  # what [[:space:]] means in RE2
DIGITS = "0123456789"
HEX = "0123456789abcdef"
# Each example is one DuckDB query over a list of values: fewer, larger examples.
MANY = settings(max_examples=100, deadline=None)


@pytest.fixture(scope="module")
def conn():
    with duckdb.connect() as connection:
        register_hmac(connection, TEST_KEY)
        yield connection


def mask(conn, name, values, column_type=ColumnType.STRING):
    """Run strategy `name` over `values` in one DuckDB query; outputs in order."""
    sql_type = "VARCHAR" if column_type is None else column_type.sql
    masked = get_strategy(name).build(exp.column("v"), MaskContext(column_type=column_type))
    query = (
        f"SELECT {masked.sql(dialect='duckdb')} FROM unnest(?::{sql_type}[]) WITH ORDINALITY AS t(v, i) ORDER BY i"
    )
    return [row[0] for row in conn.execute(query, [list(values)]).fetchall()]


def keyed_hex(message: str) -> str:
    return hmac.new(TEST_KEY, message.encode("utf-8"), hashlib.sha256).hexdigest()


# --- Python oracles: what DESIGN.md says each strategy returns ---------------


def oracle_hash(value):
    return None if value is None else keyed_hex(value)[:32]


def oracle_domain_only(value, lower=str.lower):
    # `lower` is the engine's: DuckDB maps case one code point at a time, so it
    # differs from Python's str.lower on 'İ' and a final 'Σ' (and may differ on
    # code points newer than Python's Unicode tables).
    if value is None:
        return None
    email = value.strip(POSIX_SPACE)
    if not re.fullmatch(f"[^@{POSIX_SPACE}]+@[^@{POSIX_SPACE}]+", email):
        return None
    return f"user_{keyed_hex(lower(email))[:16]}@{lower(email.split('@')[1])}"


def duckdb_lower(conn, values):
    """DuckDB's lower() of every string in `values`, as a function."""
    emails = [v.strip(POSIX_SPACE) for v in values if v is not None]
    texts = sorted({part for e in emails for part in (e, *e.split("@"))})
    rows = conn.execute("SELECT t, lower(t) FROM unnest(?::VARCHAR[]) AS u(t)", [texts]).fetchall()
    return dict(rows).__getitem__


def oracle_subnet_only(value):
    if value is None:
        return None
    text = value.strip(POSIX_SPACE)
    if "%" in text:  # scoped addresses are not accepted
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".0"
    return ":".join(format(int(group, 16), "x") for group in address.exploded.split(":")[:3]) + "::"


def oracle_last4(value):
    if value is None:
        return None
    to_mask = max(sum(c in DIGITS for c in value) - 4, 0)
    out = []
    for c in value:
        if c in DIGITS and to_mask:
            out.append("X")
            to_mask -= 1
        else:
            out.append(c)
    return "".join(out)


def oracle_zip3(value):
    if value is None:
        return None
    zip_code = value.strip(POSIX_SPACE)
    if not re.fullmatch("[0-9]{5}(-[0-9]{4})?", zip_code):
        return None
    return "000" if zip_code[:3] in RESTRICTED_ZIP3 else zip_code[:3]


def oracle_redact(value):
    return None if value is None else "[REDACTED]"


ORACLES = {
    "hash": oracle_hash,
    "subnet_only": oracle_subnet_only,
    "last4": oracle_last4,
    "zip3": oracle_zip3,
    "redact": oracle_redact,
}

# --- the registry -------------------------------------------------------------


def test_registry_names_in_order():
    assert list(STRATEGIES) == [
        "domain_only", "drop", "encrypt", "fpe", "hash", "last4", "null", "redact", "subnet_only", "tokenize",
        "year_only", "zip3",
    ]  # fmt: skip
    assert all(STRATEGIES[name].name == name for name in STRATEGIES)


def test_get_strategy_unknown_is_a_key_error():
    assert get_strategy("hash") is STRATEGIES["hash"]
    with pytest.raises(KeyError, match="unknown masking strategy 'md5'"):
        get_strategy("md5")


def test_metadata():
    assert {n for n, s in STRATEGIES.items() if s.keyed} == {"hash", "domain_only"}
    assert get_strategy("domain_only").fits == frozenset({TypeFamily.TEXT})
    assert get_strategy("year_only").fits == frozenset({TypeFamily.TEMPORAL})
    assert get_strategy("hash").fits is None and get_strategy("drop").fits is None
    assert all(s.description for s in STRATEGIES.values())
    assert {n for n, s in STRATEGIES.items() if s.options} == {"fpe", "tokenize"}
    assert {n for n, s in STRATEGIES.items() if s.reversible} == {"fpe", "tokenize", "encrypt"}
    assert get_strategy("year_only").fits_type(ColumnType.TIMESTAMP)
    assert not get_strategy("zip3").fits_type(ColumnType.INTEGER)
    assert get_strategy("zip3").fits_type(None)


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="strategy 'last4' takes no option 'keep'"):
        get_strategy("last4").build(exp.column("ssn"), MaskContext(options={"keep": 2}))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_keyed_strategies_and_only_they_call_the_hmac_function(name):
    strategy = get_strategy(name)
    masked = strategy.build(exp.column("v"), MaskContext(table="t", column="v"))
    nodes = [] if masked is None else list(masked.walk())
    calls = [n for n in nodes if isinstance(n, exp.Anonymous) and n.name == HMAC_FUNCTION]
    assert bool(calls) == strategy.keyed


def test_build_leaves_the_column_expression_alone():
    column = exp.column("email", table="u")
    get_strategy("domain_only").build(column, MaskContext())
    assert column.parent is None and column.sql() == "u.email"


# --- rendering ----------------------------------------------------------------

TYPES_BY_FAMILY = {
    None: list(ColumnType) + [None],
    TypeFamily.TEXT: [ColumnType.STRING, None],
    TypeFamily.TEMPORAL: [ColumnType.DATE, ColumnType.TIMESTAMP, None],
}


def _cases():
    for name, strategy in STRATEGIES.items():
        families = [None] if strategy.fits is None else sorted(strategy.fits)
        for family in families:
            for column_type in TYPES_BY_FAMILY[family]:
                yield name, column_type


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize("name, column_type", list(_cases()))
def test_renders_and_reparses(name, column_type, dialect):
    masked = get_strategy(name).build(exp.column("v", table="t"), MaskContext(column_type=column_type, table="t",
                                                                             column="v"))
    if masked is None:
        assert name == "drop"
        return
    sql = masked.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    assert sqlglot.parse_one(sql, read=dialect) is not None


def test_postgres_rendering_uses_postgres_spellings():
    sql = get_strategy("zip3").build(exp.column("zip"), MaskContext(column_type=ColumnType.STRING)).sql("postgres")
    assert " ~ '^[0-9]{5}(-[0-9]{4})?$'" in sql and "FROM 1 FOR 3" in sql
    assert "EXTRACT(YEAR FROM" in get_strategy("year_only").build(exp.column("d"), MaskContext()).sql("postgres")


# --- exact examples in DuckDB ---------------------------------------------------

EXAMPLES = {
    "redact": [("555-1234", "[REDACTED]"), ("", "[REDACTED]"), (None, None)],
    "last4": [
        ("123-45-6789", "XXX-XX-6789"),
        ("4111111111111111", "XXXXXXXXXXXX1111"),
        ("4111 1111 1111 1111", "XXXX XXXX XXXX 1111"),
        ("+1 (555) 010-9999", "+X (XXX) XXX-9999"),
        ("12345", "X2345"),
        ("1234", "1234"),  # four digits or fewer: nothing to mask
        ("12", "12"),
        ("no digits", "no digits"),
        ("", ""),
        ("ab1cd2ef3gh4ij5", "abXcd2ef3gh4ij5"),
        ("٣٤٥٦٧ 12345", "٣٤٥٦٧ X2345"),  # only ASCII digits count
        (None, None),
    ],
    "zip3": [
        ("94103", "941"),
        ("02134", "021"),
        ("94103-1234", "941"),
        (" 94103\n", "941"),
        ("03601", "000"),
        ("89301-0000", "000"),
        ("10201", "000"),
        ("10301", "103"),
        ("9410", None),
        ("941034", None),
        ("94103-12", None),
        ("941031234", None),
        ("9410a", None),
        ("", None),
        (None, None),
    ],
    "subnet_only": [
        ("192.168.1.100", "192.168.1.0"),
        ("  10.0.0.255\t", "10.0.0.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.0"),
        ("256.1.1.1", None),
        ("1.2.3", None),
        ("1.2.3.4.5", None),
        ("01.2.3.4", None),  # leading zeros are ambiguous (octal?): rejected
        ("2001:0DB8:85a3:0000::8a2e:370:7334", "2001:db8:85a3::"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("::1", "0:0:0::"),
        ("::", "0:0:0::"),
        ("1::", "1:0:0::"),
        ("1:2::3:4:5:6:7", "1:2:0::"),
        ("1::3:4:5:6:7:8", "1:0:3::"),
        ("1:2:3:4:5:6:7::", "1:2:3::"),
        ("::ffff:10.0.0.1", "0:0:0::"),
        ("2001:db8:1::10.0.0.1", "2001:db8:1::"),
        ("1::2:3:4:5:6:7:8", None),  # '::' must stand for at least one group
        ("1:2:3:4:5:6:7:8:9", None),
        ("1:2:3:4:5:6:7", None),
        ("1::2::3", None),
        (":::1", None),
        ("1:2:3:4:5:6:7:8::", None),
        ("12345::", None),
        ("g::1", None),
        ("fe80::1%eth0", None),
        ("::ffff:10.0.0.256", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_exact_examples(conn, name):
    values = [value for value, _ in EXAMPLES[name]]
    assert mask(conn, name, values) == [expected for _, expected in EXAMPLES[name]]


def test_domain_only_examples(conn):
    values = ["Alice@Example.COM", "  alice@example.com\n", "a@b@c.com", "@x.com", "x@", "a b@c.com", "noat", "", None]
    pseudonym = keyed_hex("alice@example.com")[:16]
    assert mask(conn, "domain_only", values) == [
        f"user_{pseudonym}@example.com",
        f"user_{pseudonym}@example.com",
        None, None, None, None, None, None, None,
    ]  # fmt: skip


def test_domain_only_lowercases_as_the_engine_does(conn):
    (masked,) = mask(conn, "domain_only", ["ΟΔΥΣ@ΠΟΛΙΣ.gr"])
    assert masked == f"user_{keyed_hex('οδυσ@πολισ.gr')[:16]}@πολισ.gr"  # not Python's final 'ς'


def test_hash_examples_and_other_types(conn):
    assert mask(conn, "hash", ["alice", "", None]) == [keyed_hex("alice")[:32], keyed_hex("")[:32], None]
    assert mask(conn, "hash", [42, None], ColumnType.INTEGER) == [keyed_hex("42")[:32], None]
    assert mask(conn, "hash", [dt.date(2024, 1, 31)], ColumnType.DATE) == [keyed_hex("2024-01-31")[:32]]
    assert mask(conn, "hash", ["42"], None) == mask(conn, "hash", [42], ColumnType.BIGINT)


def test_drop_is_none():
    assert get_strategy("drop").build(exp.column("v"), MaskContext()) is None


DUCKDB_TYPE_NAMES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INTEGER: "INTEGER",
    ColumnType.BIGINT: "BIGINT",
    ColumnType.DECIMAL: "DECIMAL(38,9)",
    ColumnType.DOUBLE: "DOUBLE",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}


@pytest.mark.parametrize("column_type", list(ColumnType))
def test_null_is_typed(conn, column_type):
    masked = get_strategy("null").build(exp.column("v"), MaskContext(column_type=column_type)).sql("duckdb")
    assert conn.execute(f"SELECT {masked}, typeof({masked})").fetchone() == (None, DUCKDB_TYPE_NAMES[column_type])


def test_null_without_a_type_is_plain_null():
    assert get_strategy("null").build(exp.column("v"), MaskContext()).sql("duckdb") == "NULL"


def test_year_only(conn):
    assert mask(conn, "year_only", [dt.date(1987, 6, 5), dt.date(1, 1, 1), None], ColumnType.DATE) == [1987, 1, None]
    assert mask(conn, "year_only", [dt.datetime(2024, 12, 31, 23, 59)], ColumnType.TIMESTAMP) == [2024]
    masked = get_strategy("year_only").build(exp.column("v"), MaskContext()).sql("duckdb")
    assert conn.execute(f"SELECT typeof({masked}) FROM (SELECT DATE '2020-02-02' AS v)").fetchone() == ("INTEGER",)


# --- properties against the oracles ----------------------------------------------

maybe_text = st.one_of(st.none(), st.text(max_size=40))
spaces = st.text(alphabet=POSIX_SPACE, max_size=2)


def _recase(draw, text):
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


@st.composite
def email_like(draw):
    local = draw(st.one_of(st.emails().map(lambda e: e.split("@")[0]), st.text(max_size=8)))
    domain = draw(st.one_of(st.emails().map(lambda e: e.split("@")[1]), st.text(max_size=8)))
    text = draw(st.sampled_from(["{l}@{d}", "{l}@@{d}", "{l}{d}", "{l}@{d}@{l}", "{l} @{d}"])).format(l=local, d=domain)
    return draw(spaces) + _recase(draw, text) + draw(spaces)


@st.composite
def ip_like(draw):
    address = draw(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
    text = draw(st.sampled_from([address.compressed, address.exploded, str(address)]))
    text = _recase(draw, text)
    if draw(st.booleans()):  # damage it somewhere: drop, double or change one character
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from(["", text[i] * 2, ":", ".", "0", "g", "::"])) + text[i + 1 :]
    return draw(spaces) + text + draw(spaces)


@st.composite
def mapped_ipv4(draw):
    ipv4 = draw(st.ip_addresses(v=4))
    prefix = draw(st.sampled_from(["::ffff:", "::", "64:ff9b::", "1:2:3:4:5:6:", "1:2:3:4:5:6:7:"]))
    return prefix + str(ipv4)


ip_text = st.one_of(
    st.none(), ip_like(), mapped_ipv4(), st.text(alphabet="0123456789abcdefABCDEF:.", max_size=41), st.text(max_size=20)
)
zip_text = st.one_of(
    st.none(),
    st.from_regex(r"\A[0-9]{5}(-[0-9]{4})?\Z"),
    st.sampled_from([p + "12" for p in RESTRICTED_ZIP3]),
    st.text(alphabet="0123456789- ", max_size=12),
    st.text(max_size=12),
)
digit_text = st.one_of(st.none(), st.text(alphabet="0123456789-() +x", max_size=25), st.text(max_size=25))

PROPERTY_INPUTS = {
    "hash": maybe_text,
    "redact": maybe_text,
    "domain_only": st.one_of(st.none(), email_like(), st.text(max_size=20)),
    "subnet_only": ip_text,
    "last4": digit_text,
    "zip3": zip_text,
}


@pytest.mark.parametrize("name", sorted(PROPERTY_INPUTS))
def test_matches_oracle(conn, name):
    @MANY
    @given(values=st.lists(PROPERTY_INPUTS[name], min_size=1, max_size=40))
    def check(values):
        if name == "domain_only":
            lower = duckdb_lower(conn, values)
            expected = [oracle_domain_only(v, lower) for v in values]
        else:
            expected = [ORACLES[name](v) for v in values]
        assert mask(conn, name, values) == expected

    check()


@MANY
@given(values=st.lists(st.text(max_size=40), min_size=1, max_size=40))
def test_direct_pii_never_shows_the_raw_value(conn, values):
    hashed, redacted, emails, last4 = (mask(conn, n, values) for n in ("hash", "redact", "domain_only", "last4"))
    for value, h, r, e, l4 in zip(values, hashed, redacted, emails, last4):
        assert h != value and len(h) == 32
        if set(value) - set(HEX):
            assert value not in h
        if value not in "[REDACTED]":
            assert r == "[REDACTED]" and value not in r
        if e is not None:
            local = value.strip(POSIX_SPACE).split("@")[0]
            assert e.split("@")[0] != local and re.fullmatch("user_[0-9a-f]{16}", e.split("@")[0])
            if set(local) - set(HEX + "user_"):
                assert local not in e
        if sum(c in DIGITS for c in value) > 4:
            assert l4 != value and value not in l4
            assert [c for c in l4 if c in DIGITS] == [c for c in value if c in DIGITS][-4:]


@MANY
@given(values=st.lists(st.ip_addresses(v=6), min_size=1, max_size=40))
def test_ipv6_keeps_the_same_48_as_python(conn, values):
    texts = [form for address in values for form in (address.compressed, address.exploded.upper())]
    networks = [ipaddress.ip_network(f"{address}/48", strict=False) for address in values for _ in (0, 1)]
    for masked, network in zip(mask(conn, "subnet_only", texts), networks):
        assert masked.endswith("::") and masked.count(":") == 4
        assert ipaddress.ip_address(masked) == network.network_address
