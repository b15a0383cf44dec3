"""The generated macros on Spark: every masking body gives DuckDB's value, byte for byte.

The `spark__` bodies are rendered by sqlglot from the same strategy builders as
DuckDB's and PostgreSQL's, with Java's regular expressions (`\\p{Space}` for
POSIX `[[:space:]]`, `$1` for `\\1`). Each is run on the shared test session
(veil's keyed functions registered on it) and on DuckDB (the plugin's
functions) over the same values: the fixed samples of the PostgreSQL test and
random text from hypothesis, unicode and whitespace included. The reversible
macro passes fpe and encrypt through on Spark and stops a tokenize model with
a compiler error naming the strategy and the engine.
"""

from __future__ import annotations

import duckdb
import pytest
from helpers import REPO, TEST_KEY_HEX
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compile_postgres import SAMPLES, STRATEGY_SAMPLES

from veil.compile import render_project
from veil.compile.plan import plan_project
from veil.compile.offline import OfflineCompilerError, render_offline
from veil.duckdb_functions import register_functions as register_duckdb
from veil.policy.load import load_policies
from veil.spark_functions import register_functions as register_spark
from veil.strategies import STRATEGIES

pytestmark = pytest.mark.spark
KEY = bytes.fromhex(TEST_KEY_HEX)
MASKS = sorted(STRATEGY_SAMPLES)
# text a mask must treat as DuckDB does: e-mail-, IP- and ZIP-like pieces, every kind of space, unicode
PIECES = st.sampled_from(["@", ".", ":", "::", "-", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003",
                          "0", "1", "25", "255", "256", "192.168.0.1", "ffff", "db8", "a", "Z", "é", "ß", "zoë",
                          "例", "02139", "12345-6789", "example.com", "$1", "\\1", "'"])
TEXTS = st.lists(st.lists(PIECES, max_size=8).map("".join) | st.text(max_size=12), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def macros():
    files = render_project(plan_project(load_policies(REPO)))
    return {path: text for path, text in files.items() if path.startswith("macros/")}


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    con = duckdb.connect()
    register_duckdb(con, KEY, {"VEIL_VAULT": str(tmp_path_factory.mktemp("vault") / "v.duckdb")})
    yield con
    con.close()


def _values(sql_type: str, values: list, dialect: str) -> str:
    def literal(value):
        if value is None:
            return f"CAST(NULL AS {sql_type})"
        if sql_type == "DATE":
            return f"CAST('{value.isoformat()}' AS DATE)"
        text = value.replace("'", "''")
        return ("'" + text.replace("\\", "\\\\") + "'") if dialect == "spark" else f"'{text}'"
    rows = ", ".join(f"({i}, {literal(v)})" for i, v in enumerate(values))
    return f"(VALUES {rows}) AS t(i, c)"


def test_every_mask_macro_has_a_spark_body_calling_the_session_function(macros):
    text = macros["macros/veil/veil_masking.sql"]
    for strategy in MASKS:
        assert f"{{% macro spark__veil_mask_{strategy}(" in text
    assert "veil.hmac_sha256" not in text.split("spark__veil_mask_hash(")[1].split("endmacro")[0]
    assert "[[:space:]]" not in text.split("spark__veil_mask_domain_only(")[1].split("endmacro")[0]


def _both(strategy: str, sql_type: str, values: list, macros, duck, spark) -> tuple[list, list]:
    """(Spark's rows, DuckDB's rows) of `veil_mask_<strategy>` over `values` (DuckDB reads TEXT, Spark STRING)."""
    call = f"SELECT i, {{{{ veil_mask_{strategy}('c') }}}} AS m FROM "
    register_spark(spark, KEY)   # other modules register other keys on the shared session
    spark_type = "STRING" if sql_type == "TEXT" else sql_type
    on_spark = [tuple(r) for r in spark.sql(render_offline(
        call + _values(spark_type, values, "spark") + " ORDER BY i", macros, dialect="spark")).collect()]
    on_duck = duck.execute(render_offline(call + _values(sql_type, values, "duckdb") + " ORDER BY i",
                                          macros, dialect="duckdb")).fetchall()
    return on_spark, on_duck


@pytest.mark.parametrize("strategy", MASKS)
def test_spark_masking_matches_duckdb_on_the_samples(strategy, macros, duck, spark):
    masked = []
    for sample in STRATEGY_SAMPLES[strategy]:
        sql_type, values = SAMPLES[sample]
        on_spark, on_duck = _both(strategy, sql_type, values, macros, duck, spark)
        assert on_spark == on_duck, (strategy, sample)
        masked += [m for _, m in on_duck if m is not None]
    assert masked   # the samples exercise the mask, not only its NULLs


@pytest.mark.parametrize("strategy", ["domain_only", "subnet_only", "zip3", "last4", "hash", "redact"])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=TEXTS)
def test_spark_masking_matches_duckdb_on_random_text(strategy, values, macros, duck, spark):
    on_spark, on_duck = _both(strategy, "TEXT", values, macros, duck, spark)
    assert on_spark == on_duck, (strategy, values)


def test_the_reversible_macro_passes_fpe_and_encrypt_and_refuses_tokenize_on_spark(macros):
    fpe = "SELECT {{ veil_reversible('fpe', \"VEIL_MASK_FPE(c, 4, 'invalid')\") }} FROM t"
    assert render_offline(fpe, macros, dialect="spark") == "SELECT VEIL_MASK_FPE(c, 4, 'invalid') FROM t"
    tokenize = "SELECT {{ veil_reversible('tokenize', \"VEIL_MASK_TOKENIZE(c, 4, 'invalid', NULL)\") }} FROM t"
    with pytest.raises(OfflineCompilerError, match="strategy tokenize is not available on spark"):
        render_offline(tokenize, macros, dialect="spark")
    assert not STRATEGIES["tokenize"].supports("spark") and STRATEGIES["fpe"].supports("spark")
