"""The synthetic raw data: deterministic, the sizes asked for, and realistic enough to mask."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re

import duckdb
import pytest

from veil.demo.synthetic import generate, main, years_before
from veil.errors import UsageError

AS_OF = datetime.date(2025, 6, 30)
WINDOW_START = datetime.datetime(2022, 6, 30)
WINDOW_END = datetime.datetime(2025, 6, 30)
SIZES = {"users": 500, "events": 20_000, "payments": 1_234}

#: Each table with the column that orders it.
KEYS = {
    "users": "user_id",
    "events": "event_id",
    "payments": "payment_id",
    "consent_events": "consent_id",
    "deletion_requests": "request_id",
}


def digests(con: duckdb.DuckDBPyConnection, schema: str = "raw") -> dict[str, str]:
    """SHA-256 of every table's rows in key order, as Python sees them."""
    result = {}
    for table, key in KEYS.items():
        rows = con.execute(f"SELECT * FROM {schema}.{table} ORDER BY {key}").fetchall()
        result[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return result


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit >= 5 else digit * 2
        total += digit
    return total % 10 == 0


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    generate(connection, **SIZES, as_of=AS_OF, seed=7)
    yield connection
    connection.close()


def test_same_arguments_give_identical_tables_whatever_the_thread_count(con):
    single_threaded = duckdb.connect(config={"threads": 1})
    generate(single_threaded, **SIZES, as_of=AS_OF, seed=7)
    assert digests(single_threaded) == digests(con)


def test_another_seed_gives_other_tables(con):
    other = duckdb.connect()
    generate(other, **SIZES, as_of=AS_OF, seed=8)
    assert all(a != b for a, b in zip(digests(other).values(), digests(con).values()))


def test_sizes_are_honoured(con):
    counts = {table: rows(con, f"SELECT count(*) FROM raw.{table}")[0][0] for table in KEYS}
    assert {table: counts[table] for table in SIZES} == SIZES
    assert counts["deletion_requests"] == 5  # 1% of users
    assert 3 * SIZES["users"] < counts["consent_events"] < 5 * SIZES["users"]


def test_returns_counts_and_defaults_to_two_payments_per_user():
    counts = generate(duckdb.connect(), users=30, events=100, as_of=AS_OF)
    assert list(counts) == list(KEYS)
    assert counts["users"] == 30 and counts["events"] == 100 and counts["payments"] == 60


def test_keys_are_one_to_n(con):
    for table, key in KEYS.items():
        (count, distinct, low, high), = rows(
            con, f"SELECT count(*), count(DISTINCT {key}), min({key}), max({key}) FROM raw.{table}"
        )
        assert (distinct, low, high) == (count, 1, count), table


def test_every_card_passes_luhn_and_has_a_visa_or_mastercard_prefix(con):
    cards = [card for (card,) in rows(con, "SELECT DISTINCT card_number FROM raw.payments")]
    assert len(cards) > SIZES["users"] / 2
    for card in cards:
        assert re.fullmatch(r"4\d{15}|5[1-5]\d{14}", card), card
        assert luhn_valid(card), card
    assert {card[0] for card in cards} == {"4", "5"}


def test_each_user_pays_with_one_or_two_cards(con):
    (most,), = rows(
        con, "SELECT max(cards) FROM (SELECT count(DISTINCT card_number) AS cards FROM raw.payments GROUP BY user_id)"
    )
    assert most == 2


def test_ssns_have_a_valid_area_group_and_serial(con):
    for (ssn,) in rows(con, "SELECT ssn FROM raw.users"):
        match = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", ssn)
        assert match, ssn
        area, group, serial = (int(part) for part in match.groups())
        assert 1 <= area <= 899 and area != 666, ssn
        assert group >= 1 and serial >= 1, ssn


def test_emails_have_one_at_and_are_unique_once_normalised(con):
    emails = [email for (email,) in rows(con, "SELECT email FROM raw.users")]
    normalised = [email.strip().lower() for email in emails]
    assert all(email.count("@") == 1 for email in normalised)
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+", email) for email in normalised)
    assert len(set(normalised)) == len(emails)
    # some raw values need that normalisation
    assert any(email != email.strip() for email in emails)
    assert any(email.strip() != email.strip().lower() for email in emails)


def test_ip_addresses_parse_and_mix_ipv4_with_varied_ipv6(con):
    addresses = [ip for (ip,) in rows(con, "SELECT DISTINCT ip_address FROM raw.events")]
    parsed = [ipaddress.ip_address(ip) for ip in addresses]
    share_v6 = sum(ip.version == 6 for ip in parsed) / len(parsed)
    assert 0.1 < share_v6 < 0.3
    v6_text = [text for text, ip in zip(addresses, parsed) if ip.version == 6]
    assert any("::" in text for text in v6_text)
    assert any(text == ip.exploded for text, ip in zip(addresses, parsed) if ip.version == 6)
    assert any(text != text.lower() for text in v6_text)


def test_users_reuse_their_devices_and_addresses(con):
    (devices, addresses), = rows(
        con,
        "SELECT max(devices), max(addresses) FROM (SELECT count(DISTINCT device_id) AS devices,"
        " count(DISTINCT ip_address) AS addresses FROM raw.events GROUP BY user_id)",
    )
    assert devices == 3 and addresses == 4
    for (device,) in rows(con, "SELECT DISTINCT device_id FROM raw.events LIMIT 50"):
        assert re.fullmatch(r"dev-[0-9a-f]{12}", device)


def test_some_users_are_far_more_active(con):
    (busiest, median), = rows(
        con, "SELECT max(n), median(n) FROM (SELECT count(*) AS n FROM raw.events GROUP BY user_id)"
    )
    assert busiest > 10 * median


def test_busy_users_are_busy_all_their_life(con):
    # Regression: DuckDB's hash(i, seed, 'a') and hash(i, seed, 'b') are nearly
    # the same draw; unmixed, a busy user's events all fell in their last days.
    positions = rows(
        con,
        "SELECT avg(epoch(e.event_ts - u.created_at) / epoch(TIMESTAMP '2025-06-30' - u.created_at))"
        " FROM raw.events AS e JOIN raw.users AS u USING (user_id)"
        " GROUP BY user_id ORDER BY count(*) DESC LIMIT 10",
    )
    assert all(0.35 < position < 0.65 for (position,) in positions), positions


def test_only_purchases_have_an_amount(con):
    assert rows(con, "SELECT DISTINCT event_type = 'purchase', amount IS NOT NULL FROM raw.events ORDER BY 1") == [
        (False, False),
        (True, True),
    ]


def test_every_timestamp_is_in_the_three_years_before_as_of(con):
    for table, column in [
        ("users", "created_at"),
        ("events", "event_ts"),
        ("payments", "paid_at"),
        ("consent_events", "recorded_at"),
        ("deletion_requests", "requested_at"),
    ]:
        (low, high), = rows(con, f"SELECT min({column}), max({column}) FROM raw.{table}")
        assert WINDOW_START <= low and high < WINDOW_END, (table, low, high)


def test_nothing_happens_to_a_user_before_sign_up(con):
    for table, column in [("events", "event_ts"), ("payments", "paid_at"), ("consent_events", "recorded_at")]:
        (early,), = rows(
            con,
            f"SELECT count(*) FROM raw.{table} AS t JOIN raw.users AS u USING (user_id)"
            f" WHERE t.{column} < u.created_at",
        )
        assert early == 0, table


def test_users_are_18_to_90_years_old(con):
    for (birth,) in rows(con, "SELECT birth_date FROM raw.users"):
        age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
        assert 18 <= age <= 90, birth


def test_zips_are_five_digits_and_some_are_in_restricted_areas(con):
    zips = [zip_code for (zip_code,) in rows(con, "SELECT zip FROM raw.users")]
    assert all(re.fullmatch(r"\d{5}", zip_code) for zip_code in zips)
    assert any(zip_code[:3] in {"036", "692", "878"} for zip_code in zips)


def test_consent_histories_hold_withdrawals_regrants_ties_and_silence(con):
    history = rows(
        con,
        "SELECT user_id, purpose, granted, recorded_at FROM raw.consent_events"
        " ORDER BY user_id, purpose, recorded_at, consent_id",
    )
    assert {purpose for _, purpose, _, _ in history} == {
        "analytics", "marketing", "marketing.email", "ml_training", "data_sharing"
    }
    withdrawals = regrants = ties = 0
    for before, after in zip(history, history[1:]):
        if before[:2] != after[:2]:
            continue
        if before[3] == after[3]:
            ties += before[2] != after[2]
        elif before[2] and not after[2]:
            withdrawals += 1
        elif not before[2] and after[2]:
            regrants += 1
    assert withdrawals and regrants and ties
    (silent,), = rows(
        con,
        "SELECT count(*) FROM raw.users AS u WHERE NOT EXISTS ("
        "SELECT 1 FROM raw.consent_events AS c WHERE c.user_id = u.user_id AND c.purpose = 'ml_training')",
    )
    assert 0 < silent < SIZES["users"]


def test_deletion_requests_name_distinct_existing_users(con):
    (requests, distinct, orphans), = rows(
        con,
        "SELECT count(*), count(DISTINCT d.user_id), count(*) FILTER (WHERE u.user_id IS NULL)"
        " FROM raw.deletion_requests AS d LEFT JOIN raw.users AS u USING (user_id)",
    )
    assert requests == distinct and orphans == 0
    regulations = {regulation for (regulation,) in rows(con, "SELECT regulation FROM raw.deletion_requests")}
    assert regulations <= {"GDPR", "CCPA"}


def test_tables_land_in_the_schema_asked_for():
    con = duckdb.connect()
    generate(con, users=10, events=20, as_of=AS_OF, schema="landing zone")
    tables = rows(
        con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'landing zone' ORDER BY 1"
    )
    assert [table for (table,) in tables] == sorted(KEYS)


def test_rerunning_replaces_the_tables():
    con = duckdb.connect()
    generate(con, users=20, events=50, as_of=AS_OF)
    assert generate(con, users=10, events=30, as_of=AS_OF)["users"] == 10


def test_bad_sizes_are_usage_errors():
    with pytest.raises(UsageError, match="users"):
        generate(duckdb.connect(), users=0)
    with pytest.raises(UsageError, match="events"):
        generate(duckdb.connect(), users=5, events=-1)


def test_command_line_prints_counts(tmp_path, capsys):
    db = tmp_path / "demo.duckdb"
    assert main(["--db", str(db), "--users", "12", "--events", "40", "--payments", "5", "--as-of", "2025-06-30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines[:3]] == [["users", "12"], ["events", "40"], ["payments", "5"]]
    with duckdb.connect(str(db)) as con:
        assert rows(con, "SELECT count(*) FROM raw.events") == [(40,)]


def test_command_line_rejects_bad_sizes(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "x.duckdb"), "--users", "0"]) == 2
    assert "users must be at least 1" in capsys.readouterr().err


def test_years_before_handles_leap_days():
    assert years_before(datetime.date(2024, 2, 29), 1) == datetime.date(2023, 2, 28)
    assert years_before(datetime.date(2025, 6, 30), 3) == datetime.date(2022, 6, 30)
