"""veil's keyed functions in Spark: byte-identical to DuckDB's, and no key in SQL, plans, the SQL tab or event log."""

from __future__ import annotations

import base64
import uuid

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import TEST_KEY_HEX
from test_hmac import RFC_4231, python_hmac
from veil.crypto.field import unseal
from veil.duckdb_functions import register_functions as register_duckdb_functions
from veil.duckdb_udfs import MISSING_KEYRING
from veil.hmac_sql import MISSING_KEY_MESSAGE, hmac_pads, register_hmac as register_duckdb_hmac, subject_digest_key
from veil.keyring import keyring_from_key
from veil.spark_functions import TOKENIZE_REFUSAL, register_functions, register_hmac

pytestmark = pytest.mark.spark

KEY = bytes.fromhex(TEST_KEY_HEX)
TEXT_FUNCTIONS = ("veil_hmac_sha256", "veil_subject_digest")
CARDS = ["4111111111111111", "5500-0000-0000-0004", "+1 (555) 010-9999", "12", "no digits", None, "4111111111111111"]


def texts_view(spark, texts: list[str | None], name: str = "texts") -> None:
    """`texts` as a temp view `name(i INT, m STRING)`, row i holding texts[i]."""
    spark.createDataFrame(list(enumerate(texts)), "i INT, m STRING").createOrReplaceTempView(name)


def duckdb_column(register, key, texts: list[str | None], call: str) -> list:
    """`call` (over column m) for each text, in DuckDB, in order."""
    with duckdb.connect() as con:
        register(con, key)
        rows = con.execute(f"SELECT {call} FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(m, i) ORDER BY i",
                           [texts]).fetchall()
    return [row[0] for row in rows]


def spark_column(spark, call: str) -> list:
    return [row[1] for row in sorted(spark.sql(f"SELECT i, {call} FROM texts").collect(), key=lambda r: r[0])]


# -- byte for byte what DuckDB computes


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=st.binary(min_size=1, max_size=100),
       texts=st.lists(st.text(max_size=40) | st.none(), min_size=1, max_size=60))
def test_text_functions_equal_duckdb_on_random_unicode(spark, key, texts):
    """One Spark query per example computes both text functions over every generated string."""
    register_hmac(spark, key)
    texts_view(spark, texts)
    rows = sorted(spark.sql(f"SELECT i, {', '.join(f'{f}(m)' for f in TEXT_FUNCTIONS)} FROM texts").collect(),
                  key=lambda row: row[0])
    for column, function in enumerate(TEXT_FUNCTIONS, start=1):
        assert [row[column] for row in rows] == duckdb_column(register_duckdb_hmac, key, texts, f"{function}(m)")
    assert [row[1] for row in rows] == [None if m is None else python_hmac(key, m) for m in texts]


@pytest.mark.parametrize("key_hex, data_hex, expected", RFC_4231, ids=[f"case{i}" for i in range(1, 8)])
def test_rfc_4231_vectors_through_the_binary_function(spark, key_hex, data_hex, expected):
    register_hmac(spark, bytes.fromhex(key_hex))
    (digest,) = spark.sql(f"SELECT veil_hmac_sha256_blob(unhex('{data_hex}'))").first()
    assert digest[: len(expected)] == expected


def test_rfc_4231_text_case_through_the_string_function(spark):
    key_hex, data_hex, expected = RFC_4231[1]
    register_hmac(spark, bytes.fromhex(key_hex))
    assert spark.sql("SELECT veil_hmac_sha256(?)", args=[bytes.fromhex(data_hex).decode()]).first()[0] == expected


def test_non_text_arguments_hash_their_text_as_duckdb_does(spark):
    """The typed SQL function casts to STRING, as DuckDB's macro casts to VARCHAR: same text, same digest."""
    register_hmac(spark, KEY)
    values = ["42", "CAST(9000000000 AS BIGINT)", "DATE '2024-01-31'", "TIMESTAMP '2024-01-31 10:11:12'",
              "TIMESTAMP '2024-01-31 10:11:12.5'", "true", "CAST(1.50 AS DECIMAL(5, 2))", "NULL"]
    calls = ", ".join(f"veil_hmac_sha256({value})" for value in values)
    spark_row = tuple(spark.sql(f"SELECT {calls}").first())
    with duckdb.connect() as con:
        register_duckdb_hmac(con, KEY)
        assert spark_row == con.execute(f"SELECT {calls}").fetchone()


def test_fpe_equals_duckdb_and_encrypt_opens_with_the_keyring(spark):
    ring = keyring_from_key(KEY)
    register_functions(spark, ring)
    texts_view(spark, CARDS)
    assert spark_column(spark, "veil_mask_fpe(m, 4, 'invalid')") == duckdb_column(
        register_duckdb_functions, ring, CARDS, "veil_mask_fpe(m, 4, 'invalid')")
    sealed = spark_column(spark, "veil_mask_encrypt(m, 'users.card')")
    assert [None if token is None else unseal(ring.by_id, token, "users.card") for token in sealed] == CARDS
    assert sealed[0] != sealed[-1]   # a random nonce per value: the same card seals differently


def test_tokenize_refuses_with_the_reason(spark):
    register_functions(spark, KEY)
    texts_view(spark, CARDS)
    with pytest.raises(Exception, match="tokenize is not available on Spark"):
        spark_column(spark, "veil_mask_tokenize(m, 4, 'invalid', CAST(NULL AS STRING))")
    assert TOKENIZE_REFUSAL.startswith("veil: strategy tokenize")


def test_without_keys_the_functions_exist_and_fail_clearly(spark):
    register_functions(spark, None)
    assert spark.sql("SELECT 1").first()[0] == 1
    with pytest.raises(Exception, match="VEIL_KEY or VEIL_KEY_FILE"):
        spark.sql("SELECT veil_hmac_sha256('a@b.c')").collect()
    with pytest.raises(Exception, match="set VEIL_KEYRING"):
        spark.sql("SELECT veil_mask_fpe('4111111111111111', 4, 'invalid')").collect()
    assert MISSING_KEY_MESSAGE and MISSING_KEYRING


# -- no key material where Spark records queries


SECRET = bytes.fromhex("c0ffee00" * 8)      # a test key, not a secret; used by no other test
CONTROL = bytes.fromhex("badc0de5" * 8)     # a key deliberately written into SQL, to prove the search finds it


def secret_forms(key: bytes) -> dict[str, list[bytes]]:
    """Every key derived from `key` that a veil function could carry, in the forms a log could show it."""
    ring = keyring_from_key(key)
    ipad, opad = hmac_pads(key)
    secrets = {"key": key, "ipad": ipad, "opad": opad, "subject digest key": subject_digest_key(key),
               "fpe key": ring.primary("fpe").material, "encrypt key": ring.primary("encrypt").material,
               "vault key": ring.primary("vault").material}
    return {name: [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
            for name, secret in secrets.items()}


def assert_absent(what: str, text: str | bytes, key: bytes) -> None:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    for name, forms in secret_forms(key).items():
        for form in forms:
            assert form not in data, f"the {name} appears in {what}"


def plan_strings(spark, df) -> str:
    utils = spark._jvm.org.apache.spark.sql.api.python.PythonSQLUtils
    modes = ("simple", "extended", "codegen", "cost", "formatted")
    return "\n".join(str(utils.explainString(df._jdf.queryExecution(), mode)) for mode in modes)


def test_the_key_is_in_no_sql_text_plan_catalog_sql_tab_or_event_log(spark_session):
    spark = spark_session.spark
    marker = f"veil-marker-{uuid.uuid4().hex}"   # a literal of the query: proves each record holds its text
    register_functions(spark, keyring_from_key(SECRET))
    texts_view(spark, ["alice@example.com", "4111111111111111", None], "secret_texts")
    query = (f"SELECT i, veil_hmac_sha256(m) AS h, veil_hmac_sha256_blob(encode(m, 'UTF-8')) AS b, "
             f"veil_subject_digest(m) AS d, veil_mask_fpe(m, 4, 'invalid') AS f, "
             f"veil_mask_encrypt(m, 'users.email') AS e, '{marker}' AS tag FROM secret_texts")
    df = spark.sql(query)
    plans = plan_strings(spark, df)
    spark.sql(f"CREATE TABLE keyed_{uuid.uuid4().hex[:8]} USING parquet AS {query}")
    assert df.collect()[0]["h"] == python_hmac(SECRET, "alice@example.com")

    # the positive control: a key written into SQL (the pure-SQL sha2 HMAC) shows in every record
    c_ipad, c_opad = hmac_pads(CONTROL)
    control_sql = (f"SELECT sha2(concat(X'{c_opad.hex()}', unhex(sha2(concat(X'{c_ipad.hex()}', "
                   f"encode(m, 'UTF-8')), 256))), 256) AS h FROM secret_texts WHERE i = 0")
    control = spark.sql(control_sql)
    control_plans = plan_strings(spark, control)
    assert control.first()[0] == python_hmac(CONTROL, "alice@example.com")

    catalog = "\n".join(str(row) for sql in [
        *(f"DESCRIBE FUNCTION EXTENDED {name}" for name in
          ("veil_hmac_sha256", "veil_hmac_sha256_udf", "veil_mask_fpe", "veil_mask_encrypt", "veil_subject_digest")),
        "SHOW FUNCTIONS LIKE 'veil*'", "SET -v", "SET"] for row in spark.sql(sql).collect())
    confs = "\n".join(f"{k}={v}" for k, v in spark.sparkContext.getConf().getAll())
    sql_tab, event_log = spark_session.sql_tab_text(), spark_session.event_log_text()

    for what, text in (("the plans", plans), ("the SQL tab", sql_tab), ("the event log", event_log)):
        assert marker in text, f"{what} does not hold the query's text: the search below would prove nothing"
    for what, text in (("the control's plans", control_plans), ("the SQL tab", sql_tab),
                       ("the event log", event_log)):
        assert c_ipad.hex() in text.lower(), f"a key written into SQL does not show in {what}"
    for what, text in (("the SQL text", query), ("the plans", plans), ("the catalog and settings", catalog),
                       ("the Spark conf", confs), ("the SQL tab", sql_tab), ("the event log", event_log)):
        assert_absent(what, text, SECRET)
    for path in sorted(spark_session.events_dir.rglob("*")):   # and the raw bytes of each event file
        if path.is_file():
            assert_absent(f"event file {path.name}", path.read_bytes(), SECRET)


@pytest.mark.parametrize("module", ["veil.spark_functions", "veil.dbt_spark"])
def test_module_examples(module):
    import doctest
    import importlib

    failed, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failed == 0
