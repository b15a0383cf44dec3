"""PostgreSQL as a target: the same compiled project parses and runs there, and what cannot run is refused.

The masking bodies, the filters, the generated models and the generic tests
are rendered offline for `postgres` and run on the throwaway server
(`pg_server`), then compared with DuckDB on the same rows. The keyed HMAC
function `veil.hmac_sha256` is a pgcrypto stand-in under the test key here
(byte-identical to DuckDB's by construction), so keyed strategies are compared too.
"""

from __future__ import annotations

import datetime
import re
import shutil
import uuid
from decimal import Decimal

import duckdb
import pytest
import sqlglot
import yaml
from click.testing import CliRunner
from helpers import FIXTURES, REPO

from veil.cli import main
from veil.compile import compile_project, render_project
from veil.compile.offline import OfflineCompilerError, render_offline
from veil.compile.plan import plan_project
from veil.duckdb_functions import register_functions
from veil.policy.load import load_policies
from veil.strategies import STRATEGIES

CLOCK = {"veil_as_of": "2026-10-10"}
REVERSIBLE = sorted(name for name, s in STRATEGIES.items() if s.reversible)
MASK_MACROS = sorted(name for name, s in STRATEGIES.items() if name not in {"drop", "null"} and not s.reversible)
SAMPLES = {   # (SQL type, values) a strategy is tried on
    "text": ("TEXT", ["Ada.Example@Example.COM ", "  zoe@mail.example", "not-an-email", "", "a@b@c", None,
                      "123-45-6789", "4111 1111 1111 1111", "12", "x1y2z3w4v5", "Zoë Müller"]),
    "email": ("TEXT", ["Ada.Example@Example.COM ", "zoe@mail.example\t", "erase.me@example.org", "@x", "a@", None]),
    "ip": ("TEXT", ["192.168.1.100", " 10.0.0.1 ", "2001:db8:85a3::8a2e:370:7334", "::1", "::ffff:10.0.0.1",
                    "2001:0DB8:0000:0000:0000:0000:0000:0001", "256.1.1.1", "01.2.3.4", "garbage", "1::2::3", None]),
    "zip": ("TEXT", ["02139", "03601", " 10001 ", "12345-6789", "1234", "ABCDE", "89301", None]),
    "date": ("DATE", [datetime.date(1985, 3, 14), datetime.date(1999, 12, 31), datetime.date(1, 1, 1), None]),
}
STRATEGY_SAMPLES = {
    "domain_only": ["email", "text"], "hash": ["text", "email", "zip"], "last4": ["text", "zip", "ip"],
    "redact": ["text", "email"], "subnet_only": ["ip", "text"], "year_only": ["date"], "zip3": ["zip", "text"],
}

# The stand-in below writes its key into SQL text (so into the shared test server's log and
# pg_stat_statements): it must never be the key other tests prove absent from those places.
STAND_IN_KEY_HEX = "5a" * 32   # an obvious test value, not a secret


@pytest.fixture(scope="module")
def files():
    return render_project(plan_project(load_policies(REPO)))


@pytest.fixture(scope="module")
def macros(files):
    return {path: text for path, text in files.items() if path.startswith("macros/")}


def _tests_as_macros(text: str) -> str:
    """dbt's `{% test name(...) %}` blocks as plain Jinja macros `test_name(...)`."""
    text = text.replace("{% test ", "{% macro test_").replace("{% endtest %}", "{% endmacro %}")
    return text.replace("{{ dbt.type_string() }}", "text")


@pytest.fixture(scope="module")
def pg(pg_server):
    """A fresh database on the test server with a stand-in `veil.hmac_sha256` under the test key."""
    name = f"veil_compile_{uuid.uuid4().hex[:8]}"
    admin = pg_server.connect()
    admin.cursor().execute(f"CREATE DATABASE {name}")
    con = pg_server.connect(dbname=name)
    cur = con.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    cur.execute("CREATE SCHEMA veil")
    cur.execute(f"""CREATE FUNCTION veil.hmac_sha256(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS
                    $$ SELECT encode(hmac(convert_to(value, 'UTF8'), '\\x{STAND_IN_KEY_HEX}'::bytea, 'sha256'), 'hex') $$""")
    yield con
    con.close()
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    con = duckdb.connect()
    register_functions(con, bytes.fromhex(STAND_IN_KEY_HEX),
                       {"VEIL_VAULT": str(tmp_path_factory.mktemp("vault") / "v.duckdb")})
    yield con
    con.close()


def _pg_rows(pg, sql):
    cur = pg.cursor()
    cur.execute(sql)
    return cur.fetchall()


def _macro_body(text: str, name: str) -> str:
    return re.search(r"\{% macro " + re.escape(name) + r"\(.*?\) -%\}\n(.*?)\n\{%- endmacro %\}", text, re.S).group(1)


# --- the generated text ----------------------------------------------------


def test_every_macro_dispatches_duckdb_postgres_and_default(macros):
    for path, text in macros.items():
        for name in re.findall(r"\{% macro (veil_\w+)\(", text):
            for prefix in ("duckdb", "postgres", "default"):
                if name != "veil_retention_filter" and name != "veil_as_of":   # adapter-neutral: default only
                    assert f"{{% macro {prefix}__{name}(" in text, (path, prefix, name)


def test_postgres_masking_bodies_parse_and_call_the_schema_qualified_hmac(macros):
    text = macros["macros/veil/veil_masking.sql"]
    for strategy in MASK_MACROS:
        for prefix in ("postgres", "default"):
            body = _macro_body(text, f"{prefix}__veil_mask_{strategy}").replace("{{ column }}", "c")
            sqlglot.parse_one(f"SELECT {body}", read="postgres")
            if STRATEGIES[strategy].keyed:
                assert "veil.hmac_sha256(" in body and "VEIL_HMAC_SHA256" not in body.upper().replace("VEIL.", "")
        duck_body = _macro_body(text, f"duckdb__veil_mask_{strategy}")
        assert duck_body == f"VEIL_MASK_{strategy.upper()}({{{{ column }}}})"


def test_every_model_and_test_renders_for_postgres_and_parses(files, macros):
    for path, text in files.items():
        if not path.endswith(".sql") or not path.startswith("models/"):
            continue
        sql = render_offline(text, macros, dialect="postgres", variables=CLOCK)
        sqlglot.parse_one(sql, read="postgres")
        for strategy in (s for s in REVERSIBLE if f"veil_reversible('{s}'" in text):
            # the reversible strategies call veil's keyed functions in schema veil (veil.postgres_reversible)
            assert f"veil.VEIL_MASK_{strategy.upper()}(" in sql, (path, strategy)
            assert f"VEIL_MASK_{strategy.upper()}(" in render_offline(text, macros, dialect="duckdb", variables=CLOCK)
            with pytest.raises(OfflineCompilerError, match=f"strategy {strategy} is not available on this adapter"):
                render_offline(text, macros, dialect="snowflake", variables=CLOCK)
    tests = {"tests.sql": _tests_as_macros(macros["macros/veil/veil_tests.sql"])}
    for call in _test_calls():
        sqlglot.parse_one(render_offline(call, {**macros, **tests}, dialect="postgres", variables=CLOCK),
                          read="postgres")


def _test_calls() -> list[str]:
    return [
        "{{ test_veil_no_raw_values('analyst__users', 'raw.users', ['email', 'ssn'], ['user_id', 'email']) }}",
        "{{ test_veil_not_erased('analyst__users', 'user_id', 'raw.deletion_requests', 'user_id') }}",
        "{{ test_veil_consented('ml__users', 'user_id', 'raw.consent_events', 'user_id', 'purpose', 'granted', "
        "'recorded_at', ['ml_training'], 'opt_in') }}",
        "{{ test_veil_consented('analyst__users', 'user_id', 'raw.consent_events', 'user_id', 'purpose', "
        "'granted', 'recorded_at', ['analytics'], 'opt_out') }}",
        "{{ test_veil_within_retention('analyst__events', 'event_ts', 730, "
        "[{'name': 'ip_address', 'days': 30}]) }}",
    ]


# --- the same results on PostgreSQL and DuckDB -------------------------------


def _values_sql(sql_type: str, values: list, dialect: str) -> str:
    def literal(value):
        if value is None:
            return f"CAST(NULL AS {sql_type})"
        if isinstance(value, datetime.date):
            return f"CAST('{value.isoformat()}' AS DATE)"
        return "'" + value.replace("'", "''") + "'"
    rows = ", ".join(f"({i}, {literal(v)})" for i, v in enumerate(values))
    return f"(VALUES {rows}) AS t(i, c)"


@pytest.mark.parametrize("strategy", sorted(STRATEGY_SAMPLES))
def test_postgres_masking_matches_duckdb(strategy, macros, pg, duck):
    for sample in STRATEGY_SAMPLES[strategy]:
        sql_type, values = SAMPLES[sample]
        call = f"SELECT i, {{{{ veil_mask_{strategy}('c') }}}} FROM "
        on_pg = _pg_rows(pg, render_offline(call + _values_sql(sql_type, values, "postgres") + " ORDER BY i",
                                            macros, dialect="postgres"))
        on_duck = duck.execute(render_offline(call + _values_sql(sql_type, values, "duckdb") + " ORDER BY i",
                                              macros, dialect="duckdb")).fetchall()
        assert on_pg == on_duck, (strategy, sample)


@pytest.fixture(scope="module")
def built(files, macros, pg, duck):
    """The reference models that run on PostgreSQL, built on tiny_raw.sql in both warehouses."""
    raw = (FIXTURES / "tiny_raw.sql").read_text()
    duck.execute(raw)
    _pg_rows_none(pg, raw)
    plan = plan_project(load_policies(REPO))
    consent = files["models/veil/veil_consent_current.sql"]
    duck.execute("CREATE TABLE veil_consent_current AS " + render_offline(consent, macros, variables=CLOCK))
    _pg_rows_none(pg, "CREATE TABLE veil_consent_current AS "
                  + render_offline(consent, macros, dialect="postgres", variables=CLOCK))
    names = []
    for model in plan.models:
        text = files[f"models/veil/{model.audience}/{model.name}.sql"]
        if "veil_reversible(" in text:   # keyed server functions: tests/test_postgres_strategies*.py
            continue
        duck.execute(f"CREATE TABLE {model.name} AS " + render_offline(text, macros, variables=CLOCK))
        _pg_rows_none(pg, f"CREATE TABLE {model.name} AS "
                      + render_offline(text, macros, dialect="postgres", variables=CLOCK))
        names.append(model.name)
    return names


def _pg_rows_none(pg, sql):
    pg.cursor().execute(sql)


def _normal(rows):
    def value(v):
        if isinstance(v, Decimal):
            return float(v)
        return v
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_models_give_the_same_rows_on_postgres_and_duckdb(built, pg, duck):
    assert {"analyst__users", "analyst__events", "ml__users"} <= set(built)
    for name in built:
        on_pg = _pg_rows(pg, f"SELECT * FROM {name}")
        on_duck = duck.execute(f"SELECT * FROM {name}").fetchall()
        assert on_pg, name
        assert _normal(on_pg) == _normal(on_duck), name


def test_generic_tests_pass_on_postgres(built, macros, pg, duck):
    tests = {"tests.sql": _tests_as_macros(macros["macros/veil/veil_tests.sql"])}
    for call in _test_calls():
        assert _pg_rows(pg, render_offline(call, {**macros, **tests}, dialect="postgres", variables=CLOCK)) == []
        assert duck.execute(render_offline(call, {**macros, **tests}, variables=CLOCK)).fetchall() == []
    # a raw email in the model fails veil_no_raw_values on PostgreSQL too
    _pg_rows_none(pg, "CREATE TABLE leaky AS SELECT user_id, email FROM raw.users")
    leak = "{{ test_veil_no_raw_values('leaky', 'raw.users', ['email'], ['user_id', 'email']) }}"
    assert _pg_rows(pg, render_offline(leak, {**macros, **tests}, dialect="postgres"))


# --- refusing what PostgreSQL cannot run; schemas and grants -----------------


@pytest.fixture()
def project(tmp_path):
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    return tmp_path


def test_compile_for_postgres_accepts_every_strategy_of_the_reference_project(project):
    result = CliRunner().invoke(main, ["compile", "--target", "postgres", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    plan, _ = compile_project(project, check=True, target="postgres")
    assert set(REVERSIBLE) <= {get.strategy for m in plan.models for get in m.kept}


def test_compile_refuses_a_strategy_its_target_cannot_run_at_its_line(project, monkeypatch):
    import dataclasses

    for strategy in REVERSIBLE:   # as if they ran on DuckDB only
        monkeypatch.setitem(STRATEGIES, strategy, dataclasses.replace(
            STRATEGIES[strategy], targets=frozenset({"duckdb"}), unavailable_because="not installed there"))
    runner = CliRunner()
    result = runner.invoke(main, ["compile", "--target", "postgres", "--project-dir", str(project)])
    assert result.exit_code == 2, result.output
    assert not (project / "models/veil").exists()   # nothing written
    for strategy, path, column in (("fpe", "payments", "card_number"), ("tokenize", "payments", "card_number"),
                                   ("encrypt", "users", "ssn")):
        found = re.search(rf"^(policies/tables/{path}\.yml):(\d+): column {column}: strategy {strategy} "
                          r"is not available on postgres \(not installed there\)", result.output, re.M)
        assert found, result.output
        line = (project / found.group(1)).read_text().splitlines()[int(found.group(2)) - 1]
        assert strategy in line
    assert "Traceback" not in result.output
    # the profile's adapter decides without --target; duckdb runs everything
    assert runner.invoke(main, ["compile", "--project-dir", str(project)]).exit_code == 0
    assert runner.invoke(main, ["compile", "--target", "duckdb", "--project-dir", str(project)]).exit_code == 0
    result = runner.invoke(main, ["compile", "--project-dir", str(project)], env={"DBT_TARGET": "postgres"})
    assert result.exit_code == 2 and "strategy fpe is not available on postgres" in result.output


def test_compile_for_postgres_accepts_portable_strategies(project):
    for path in ("payments", "users"):
        policy = project / f"policies/tables/{path}.yml"
        text = policy.read_text()
        text = re.sub(r"\{strategy: (fpe|tokenize)[^}]*\}", "{strategy: last4}", text)
        text = text.replace("customer_support: encrypt", "customer_support: last4")
        policy.write_text(text)
    result = CliRunner().invoke(main, ["compile", "--target", "postgres", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    plan, _ = compile_project(project, check=True, target="postgres")
    assert all(get.strategy not in REVERSIBLE for m in plan.models for get in m.kept)


def test_audience_schema_and_grants_reach_the_model_config(project):
    veil_yml = project / "policies/veil.yml"
    text = veil_yml.read_text().replace(
        'analyst: {purpose: analytics,        description: "Analysts: aggregate product and revenue analytics"}',
        'analyst: {purpose: analytics, schema: analyst, grants: [analyst_role, bi_reader], description: "x"}')
    veil_yml.write_text(text)
    assert CliRunner().invoke(main, ["compile", "--project-dir", str(project)]).exit_code == 0
    for table in ("users", "events", "payments"):
        doc = yaml.safe_load((project / f"models/veil/analyst/analyst__{table}.yml").read_text())
        config = doc["models"][0]["config"]
        assert config["schema"] == "analyst"
        assert config["grants"] == {"select": ["analyst_role", "bi_reader"]}
    ml = yaml.safe_load((project / "models/veil/ml/ml__users.yml").read_text())["models"][0]["config"]
    assert "schema" not in ml and "grants" not in ml   # opt-in per audience


def test_bad_grants_are_a_policy_error_at_their_line(project):
    veil_yml = project / "policies/veil.yml"
    lines = veil_yml.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  ml:"))
    lines[index] = '  ml:      {purpose: ml_training, grants: ["not a role"]}'
    veil_yml.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(project)])
    assert result.exit_code == 2
    assert f"policies/veil.yml:{index + 1}:" in result.output and "not a valid name" in result.output
