"""`veil reveal` prints only what it can prove veil issued for the column; every attempt is audited.

FF1 has no integrity (every digit string decrypts to some digit string), so an
fpe token is revealed only when its decryption is a value the table's relation
holds; a vault token only when the vault holds it and the source still holds
its original; a `veil1:` ciphertext only when it opens for the column. All or
nothing; refusals exit 1, failures (busy or missing warehouse, keys) exit 2.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys

import duckdb
import pytest
from click.testing import CliRunner
from helpers import REPO

from veil.audit.trail import AuditTrail, digest
from veil.cli import main
from veil.crypto.field import seal
from veil.crypto.fpe import FormatPreservingCipher, luhn_residue
from veil.keyring import load_keyring
from veil.vault import Vault

CARD, OTHER_CARD = "4111111111111111", "5500000000000004"
FPE_RULE = "analytics: {strategy: fpe, keep_last: 4, luhn: invalid}"


def setup_project(tmp_path, monkeypatch, replace: dict[str, str] | None = None):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    payments = tmp_path / "policies/tables/payments.yml"
    text = payments.read_text()
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    payments.write_text(text)
    monkeypatch.chdir(tmp_path)
    for name in ("VEIL_KEY", "VEIL_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VEIL_KEYRING", str(tmp_path / ".veil/keyring.json"))
    monkeypatch.setenv("VEIL_VAULT", str(tmp_path / ".veil/vault.duckdb"))
    monkeypatch.setenv("VEIL_AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.setenv("VEIL_ACTOR", "alice@example.test")
    assert CliRunner().invoke(main, ["keys", "init"]).exit_code == 0
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.payments (payment_id BIGINT, user_id BIGINT, card_number VARCHAR)")
        con.execute("INSERT INTO raw.payments VALUES (1, 1, ?), (2, 2, ?), (3, 3, '4929-1234-5678-9012')",
                    [CARD, OTHER_CARD])
    return tmp_path


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """The reference policies: payments.card_number has fpe (analytics) and tokenize (ml); support may reveal it."""
    return setup_project(tmp_path, monkeypatch)


@pytest.fixture()
def tokenize_only(tmp_path, monkeypatch):
    """payments.card_number with tokenize rules only: no fpe at all."""
    return setup_project(tmp_path, monkeypatch, {FPE_RULE: "analytics: {strategy: tokenize, keep_last: 4}"})


def reveal(*values, audience="support", database="warehouse.duckdb", column="card_number"):
    return CliRunner().invoke(main, ["reveal", "--audience", audience, "--table", "payments", "--column", column,
                                     "--reason", "ticket 4711", "--database", database, *values])


def last_record(project):
    return AuditTrail(project / "audit.duckdb").records(kind="reveal")[-1]


def fpe_token(value, keep_last=4):
    return FormatPreservingCipher(load_keyring().primary("fpe").material).encrypt(value, keep_last=keep_last,
                                                                                  luhn="invalid")


def vault_token(project, value, subject="1"):
    vault = Vault(project / ".veil/vault.duckdb", load_keyring())
    try:
        return vault.tokenize([value], keep_last=4, luhn="invalid", subjects=[subject])[0]
    finally:
        vault.close()


def luhn_valid_card(rng):
    payload = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return payload + str((10 - luhn_residue(payload + "0")) % 10)


def assert_refused(result, project, unproven):
    assert result.exit_code == 1, result.output
    assert result.stdout == ""                       # nothing printed where originals go
    assert "refused" in result.stderr and "audited" in result.stderr
    record = last_record(project)
    assert record.status == "refused" and record.details["unproven"] == unproven
    assert record.details["refusal"] and "revealed" != record.status
    return record


def assert_no_plaintext_in_the_trail(project, *plaintexts):
    data = (project / "audit.duckdb").read_bytes()
    for plaintext in plaintexts:
        assert plaintext.encode() not in data


# -- what cannot be proven is refused


@pytest.mark.parametrize("guess", ["1234567890123456", "seeded"])
def test_a_luhn_valid_number_that_is_no_token_is_refused_and_audited(project, guess):
    if guess == "seeded":
        guess = luhn_valid_card(random.Random(11))
    decrypted = FormatPreservingCipher(load_keyring().primary("fpe").material).decrypt(guess, keep_last=4,
                                                                                        luhn="invalid")
    result = reveal(guess)
    record = assert_refused(result, project, [1])
    assert decrypted not in result.output
    # keyed: a card number someone typed is not recoverable from the trail by trying every card
    assert record.details["value_digests"] == [AuditTrail(project / "audit.duckdb").value_digest(guess)] != [digest(guess)]
    assert record.rows == 1
    assert_no_plaintext_in_the_trail(project, decrypted, guess)


def test_the_token_of_an_erased_subject_is_refused(project):
    token = fpe_token(CARD)
    assert reveal(token).stdout.strip() == CARD                 # the control: while the row is there
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("DELETE FROM raw.payments WHERE user_id = 1")
    assert_refused(reveal(token), project, [1])


def test_an_anonymized_row_no_longer_proves_its_token(project):
    token = fpe_token(OTHER_CARD)
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("UPDATE raw.payments SET card_number = NULL WHERE user_id = 2")   # erasure: anonymize
    assert_refused(reveal(token), project, [1])


def test_a_forgotten_vault_token_is_refused_not_ff1_decrypted(project):
    token = vault_token(project, CARD, subject="1")
    assert reveal(token).stdout.strip() == CARD                 # the control
    vault = Vault(project / ".veil/vault.duckdb", load_keyring())
    assert vault.forget_subjects(["1"]) == {"1": 1}
    vault.close()
    # the card is still in the source (another row may share it): the forgotten token proves nothing
    assert_refused(reveal(token), project, [1])


def test_a_vault_miss_on_a_tokenize_column_is_refused_without_ff1(tokenize_only, monkeypatch):
    import veil.reveal

    def no_ff1(*_args, **_kwargs):
        raise AssertionError("FF1 used on a column without an fpe rule")

    monkeypatch.setattr(veil.reveal, "FormatPreservingCipher", no_ff1)
    # an FF1 token of a card the source holds: proven if FF1 were tried, so refused only because it is not
    result = reveal(fpe_token(CARD))
    record = assert_refused(result, tokenize_only, [1])
    assert "nor a token in the vault" in record.details["refusal"] and "fpe" not in record.details["refusal"]
    token = vault_token(tokenize_only, CARD)
    assert reveal(token).stdout.strip() == CARD


def test_a_vault_token_of_another_column_is_refused(project):
    ssn_token = vault_token(project, "123-45-6789-0000")    # some other column's tokenized value, same options
    assert_refused(reveal(ssn_token), project, [1])


def test_one_unprovable_value_refuses_the_whole_request(project):
    result = reveal(fpe_token(CARD), luhn_valid_card(random.Random(3)), vault_token(project, OTHER_CARD))
    assert_refused(result, project, [2])
    assert CARD not in result.output and OTHER_CARD not in result.output
    assert_no_plaintext_in_the_trail(project, CARD, OTHER_CARD)


def test_an_altered_or_misplaced_ciphertext_is_refused(project):
    key = load_keyring().primary("encrypt")
    misplaced = seal(key, CARD, "users.ssn")
    altered = seal(key, CARD, "payments.card_number")[:-2] + "AA"
    assert_refused(reveal(misplaced, altered), project, [1, 2])


def test_an_audience_without_the_grant_is_refused(project):
    result = reveal(fpe_token(CARD), audience="analyst")
    assert result.exit_code == 1 and "may not reveal" in result.stderr and result.stdout == ""
    assert last_record(project).status == "refused"


# -- what is proven is revealed


def test_real_tokens_are_revealed_with_their_proofs(project):
    formatted = fpe_token("4929-1234-5678-9012")
    ciphertext = seal(load_keyring().primary("encrypt"), "4000000000000002", "payments.card_number")
    result = reveal(fpe_token(CARD), formatted, vault_token(project, OTHER_CARD, subject="2"), ciphertext)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [CARD, "4929-1234-5678-9012", OTHER_CARD, "4000000000000002"]
    record = last_record(project)
    assert record.status == "revealed" and record.rows == 4
    assert record.details["proofs"] == ["fpe+source", "fpe+source", "vault+source", "ciphertext"]
    assert_no_plaintext_in_the_trail(project, CARD, OTHER_CARD, "4929-1234-5678-9012", "4000000000000002")


def test_a_ciphertext_needs_no_warehouse(project):
    ciphertext = seal(load_keyring().primary("encrypt"), CARD, "payments.card_number")
    result = reveal(ciphertext, database="nowhere.duckdb")
    assert result.exit_code == 0 and result.stdout.strip() == CARD


# -- failures: audited, exit 2, nothing revealed


def test_a_busy_warehouse_is_an_audited_failure(project):
    token = fpe_token(CARD)
    hold = ("import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\ncon.execute('BEGIN TRANSACTION')\n"
            "print('locked', flush=True)\nsys.stdin.read()")   # another process writing: as `dbt build` does
    holder = subprocess.Popen([sys.executable, "-c", hold, str(project / "warehouse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = reveal(token)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "warehouse busy" in result.stderr and "Traceback" not in result.output
    record = last_record(project)
    assert record.status == "failed" and "warehouse busy" in record.details["error"]
    assert reveal(token).stdout.strip() == CARD                 # once it is free again


def test_a_missing_warehouse_is_an_audited_failure(project):
    result = reveal(fpe_token(CARD), database="nowhere.duckdb")
    assert result.exit_code == 2 and result.stdout == "" and "not found" in result.stderr
    assert last_record(project).status == "failed"


def test_a_source_that_lacks_the_column_is_an_audited_failure(project):
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("ALTER TABLE raw.payments RENAME COLUMN card_number TO pan")
    result = reveal(fpe_token(CARD))
    assert result.exit_code == 2 and result.stdout == ""
    assert last_record(project).status == "failed"


def test_bad_input_is_an_audited_failure(project):
    assert reveal("1", audience="nobody").exit_code == 2
    assert last_record(project).status == "failed"
    assert reveal("1", column="nope").exit_code == 2
    record = last_record(project)
    assert record.status == "failed" and "not a column" in record.details["error"]


def test_without_keys_the_failure_is_audited(project, monkeypatch):
    monkeypatch.delenv("VEIL_KEYRING")
    (project / ".veil/keyring.json").rename(project / "elsewhere.json")
    result = reveal("8520735147531111")
    assert result.exit_code == 2 and "no keys" in result.stderr and result.stdout == ""
    assert last_record(project).status == "failed"


def test_the_vault_lookup_answers_only_for_the_options_that_made_the_token(tmp_path):
    from veil.keyring import keyring_from_key

    vault = Vault(tmp_path / "vault.duckdb", keyring_from_key(bytes(range(32))))
    token = vault.tokenize([CARD], keep_last=4, luhn="invalid")[0]
    assert vault.lookup(token, 4, "invalid") == CARD
    assert vault.lookup(token, 0, "invalid") is None and vault.lookup(token, 4, "any") is None
    assert vault.lookup("0000000000001111", 4, "invalid") is None
    vault.close()
