"""`veil retention`: physical deletion and column expiry, in place, idempotent."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from helpers import TEST_KEY_HEX, load_fixture, write_files
from veil.cli import main
from veil.errors import DecryptionError
from veil.keyring import keyring_from_key
from veil.policy.load import load_policies
from veil.relations import PhysicalRelations
from veil.retention import apply_retention, format_results
from veil.vault import Vault

FIXTURE = load_fixture("consent_retention_project.yml")


@pytest.fixture()
def warehouse(tmp_path):
    write_files(tmp_path, FIXTURE["files"])
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(FIXTURE["data"])
    return tmp_path, path


def invoke(project, path, *extra):
    return CliRunner().invoke(main, ["retention", "--project-dir", str(project), "--database", str(path),
                                     "--as-of", "2026-11-01", *extra])


def events(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT event_id, ip_address FROM raw.events ORDER BY 1").fetchall()


def test_dry_run_counts_and_changes_nothing(warehouse):
    project, path = warehouse
    before = events(path)
    result = invoke(project, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "events (\"raw\".\"events\"): would delete 1 rows older than 30 days; would null ip_address in 1 rows" \
        in result.output
    assert "kept 1 rows without an event time" in result.output
    assert events(path) == before


def test_deletes_expired_rows_nulls_expired_columns_and_is_idempotent(warehouse):
    project, path = warehouse
    result = invoke(project, path)
    assert result.exit_code == 0, result.output
    assert "deleted 1 rows older than 30 days; nulled ip_address in 1 rows" in result.output
    assert events(path) == [(1, "192.0.2.1"), (2, None), (4, "192.0.2.4")]
    again = invoke(project, path)
    assert "deleted 0 rows older than 30 days; nulled ip_address in 0 rows" in again.output
    assert events(path) == [(1, "192.0.2.1"), (2, None), (4, "192.0.2.4")]


def test_tables_without_retention_are_untouched(warehouse):
    project, path = warehouse
    invoke(project, path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.users").fetchone()[0] == 12


def test_bad_clock_is_a_usage_error(warehouse):
    project, path = warehouse
    result = CliRunner().invoke(main, ["retention", "--project-dir", str(project), "--database", str(path),
                                       "--as-of", "tomorrow"])
    assert result.exit_code == 2 and "expected a date" in result.output


# --- the token vault expires with the rows ----------------------------------------

TOKENIZED = {
    "policies/tables/payments.yml": """\
table: payments
relation: "source('raw', 'payments')"
subject: user_id
event_time: paid_at
retention_days: 30
schema:
  - {name: payment_id, type: BIGINT, pii_classification: NON_PII}
  - {name: user_id, type: BIGINT, pii_classification: PSEUDONYMOUS}
  - name: card_number
    type: STRING
    pii_classification: DIRECT_PII
    data_handling: {masking: {analytics: {strategy: tokenize, keep_last: 4}}}
  - name: phone
    type: STRING
    pii_classification: DIRECT_PII
    data_handling: {retention_days: 7, masking: {analytics: tokenize}}
  - {name: paid_at, type: TIMESTAMP, pii_classification: NON_PII}
""",
    "policies/tables/refunds.yml": """\
table: refunds                           # no retention: its cards keep their tokens
relation: "source('raw', 'refunds')"
schema:
  - {name: refund_id, type: BIGINT, pii_classification: NON_PII}
  - name: card_number
    type: STRING
    pii_classification: DIRECT_PII
    data_handling: {masking: {analytics: {strategy: tokenize, keep_last: 4}}}
""",
}
PAYMENTS = """
CREATE TABLE raw.payments (payment_id BIGINT, user_id BIGINT, card_number VARCHAR, phone VARCHAR, paid_at TIMESTAMP);
INSERT INTO raw.payments VALUES
  (1, 1, '4111111111111111', '+1-202-555-0101', TIMESTAMP '2026-10-31'),  -- young
  (2, 2, '4111111111111111', '+1-202-555-0102', TIMESTAMP '2026-09-01'),  -- past retention, card as row 1
  (3, 3, '5500000000000004', '+1-202-555-0101', TIMESTAMP '2026-09-01'),  -- past retention, card as refund 1
  (4, 4, '4012888888881881', '+1-202-555-0104', TIMESTAMP '2026-10-20'),  -- row stays, phone expired
  (5, 5, '4222222222222',    '+1-202-555-0105', NULL),                    -- undated: stays
  (6, 6, '4916338506082832', NULL,              TIMESTAMP '2026-08-01');  -- past retention
CREATE TABLE raw.refunds (refund_id BIGINT, card_number VARCHAR);
INSERT INTO raw.refunds VALUES (1, '5500000000000004');
"""
GONE = {"4916338506082832", "+1-202-555-0102", "+1-202-555-0104"}


@pytest.fixture()
def vaulted(warehouse):
    """The retention project with tokenized payments, and a vault holding every value's token as a
    build would have made it (cards keep_last 4, phones keep_last 0; both luhn invalid)."""
    project, path = warehouse
    write_files(project, TOKENIZED)
    with duckdb.connect(str(path)) as con:
        con.execute(PAYMENTS)
        rows = con.execute("SELECT CAST(user_id AS VARCHAR), card_number, phone FROM raw.payments").fetchall()
    vault = Vault(project / "vault.duckdb", keyring_from_key(bytes.fromhex(TEST_KEY_HEX)))
    subjects = [r[0] for r in rows]
    tokens = dict(zip([r[1] for r in rows], vault.tokenize([r[1] for r in rows], 4, "invalid", subjects)))
    tokens.update(zip([r[2] for r in rows], vault.tokenize([r[2] for r in rows], 0, "invalid", subjects)))
    tokens.pop(None)
    yield project, path, vault, tokens
    vault.close()


def retain(project, path, vault, dry_run):
    with duckdb.connect(str(path)) as con:
        results = apply_retention(load_policies(project), con, PhysicalRelations({}), as_of="2026-11-01",
                                  dry_run=dry_run, vault=vault)
    return {r.table: r for r in results}, format_results(results, dry_run)


def revealable(vault, tokens):
    kept = set()
    for value, token in tokens.items():
        try:
            assert vault.detokenize(token) == value
            kept.add(value)
        except DecryptionError:
            pass
    return kept


def test_vault_entries_of_expired_values_go_and_shared_ones_stay(vaulted):
    project, path, vault, tokens = vaulted
    results, text = retain(project, path, vault, dry_run=False)
    assert results["payments"].deleted_rows == 3 and results["payments"].nulled == {"phone": 1}
    assert results["payments"].forgotten_tokens == 3 and results["events"].forgotten_tokens is None
    assert "deleted 3 rows older than 30 days; nulled phone in 1 rows; kept 1 rows without an event time; " \
           "forgot 3 vault entries" in text
    assert revealable(vault, tokens) == set(tokens) - GONE
    assert vault.count() == len(tokens) - 3
    again, text = retain(project, path, vault, dry_run=False)
    assert again["payments"].forgotten_tokens == 0 and "forgot 0 vault entries" in text


def test_the_owners_of_forgotten_entries_go_with_them(vaulted):
    project, path, vault, _ = vaulted
    assert vault.count_owned(["2", "4", "6"]) == {"2": 2, "4": 2, "6": 1}
    retain(project, path, vault, dry_run=False)
    assert vault.count_owned(["2", "4", "6"]) == {"2": 1, "4": 1}    # 2's card (row 1's too), 4's card


def test_dry_run_counts_vault_entries_and_forgets_nothing(vaulted):
    project, path, vault, tokens = vaulted
    before = vault.count()
    results, text = retain(project, path, vault, dry_run=True)
    assert results["payments"].forgotten_tokens == 3 and "would forget 3 vault entries" in text
    assert vault.count() == before and revealable(vault, tokens) == set(tokens)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*), count(phone) FROM raw.payments").fetchone() == (6, 5)


def test_without_a_vault_retention_reports_no_vault_entries(vaulted):
    project, path, vault, tokens = vaulted
    results, text = retain(project, path, None, dry_run=False)
    assert results["payments"].forgotten_tokens is None and "vault" not in text
    assert revealable(vault, tokens) == set(tokens)


def test_retention_is_physical_the_expired_bytes_leave_the_file(warehouse):
    project, path = warehouse
    with duckdb.connect(str(path), read_only=True) as con:
        before = dict(con.execute("SELECT event_id, ip_address FROM raw.events").fetchall())
    kept = set(dict(events(path)).values())
    assert invoke(project, path, "--dry-run").exit_code == 0
    bytes_before = path.read_bytes()
    assert invoke(project, path).exit_code == 0
    gone = {ip for ip in before.values() if ip and ip not in {v for _, v in events(path)}}
    assert gone, "the control: retention removes some values"
    assert all(ip.encode() in bytes_before for ip in gone), "the control: the plaintext was findable before"
    after = path.read_bytes() + (path.with_name(path.name + ".wal").read_bytes()
                                 if path.with_name(path.name + ".wal").exists() else b"")
    for ip in gone:
        assert ip.encode() not in after, ip
    assert any(ip.encode() in after for ip in kept if ip)                # what stays is still there
