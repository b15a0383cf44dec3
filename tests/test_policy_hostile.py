"""Hostile strings in policies (issue 11): no policy text runs as dbt Jinja.

- As a name (table, column, subject, event time, consent or erasure column,
  audience), every string of the corpus is refused: exit 2 at `path:line:
  key:`, no traceback, a bounded message, and no generated file touched.
- As free text (descriptions, reasons, a policy's file name), every string
  compiles and reaches dbt's manifest exactly as written after one `dbt
  parse`, with VEIL_CANARY set and never expanded; a
  `raise_compiler_error` in the corpus would fail the parse if it ran.
"""

from __future__ import annotations

import json

import jinja2
import pytest
import yaml
from click.testing import CliRunner
from dbt_runner import env_for, run
from helpers import FIXTURES, load_fixture, write_files

from veil.cli import main
from veil.errors import PolicyError
from veil.policy.limits import printable
from veil.policy.load import load_policies
from veil.policy.names import RESERVED_WORDS, identifier_problem

CORPUS = yaml.safe_load((FIXTURES / "hostile" / "strings.yml").read_text(encoding="utf-8"))
BASE = load_fixture("policy_errors.yml")["base"]
CANARY = "canary-5f0c9e2d-not-a-secret"
VEIL_YML, USERS_YML = "policies/veil.yml", "policies/tables/users.yml"


def quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar on one line, every non-ASCII character escaped."""
    body = "".join(f"\\{c}" if c in '"\\' else c if " " <= c <= "~" else f"\\U{ord(c):08x}" for c in text)
    return f'"{body}"'


# (file, text of the base file, the same text with @ where the name goes, key of the problem)
SLOTS = {
    "column": (USERS_YML, "  - name: email", "  - name: @", "schema[1].name"),
    "table": (USERS_YML, "table: users", "table: @", "table"),
    "subject": (USERS_YML, "subject: user_id", "subject: @", "subject"),
    "via": (USERS_YML, "subject: user_id", "subject: {via: @, relation: \"ref('x')\", key: id}", "subject.via"),
    "event_time": (USERS_YML, "event_time: created_at", "event_time: @", "event_time"),
    "consent_subject": (VEIL_YML, "consent_events')\"\n  subject: user_id", "consent_events')\"\n  subject: @",
                        "consent.subject"),
    "erasure_subject": (VEIL_YML, "deletion_requests')\"\n  subject: user_id",
                        "deletion_requests')\"\n  subject: @", "erasure.subject"),
    "audience": (VEIL_YML, "analyst: {purpose: analytics}", "@: {purpose: analytics}", "audiences."),
}


def with_name(slot: str, name: str) -> tuple[dict[str, str], str]:
    """The base files with `name` in the slot, and the `path:line: key` the problem must start with."""
    path, old, new, key = SLOTS[slot]
    text = BASE[path]
    assert old in text, old
    start = text.index(old)
    line = text.count("\n", 0, start) + new[:new.index("@")].count("\n") + 1
    return {**BASE, path: text.replace(old, new.replace("@", quoted(name)), 1)}, f"{path}:{line}: {key}"


def test_the_corpus_holds_no_valid_name():
    assert len(CORPUS) >= 30
    assert [s for s in CORPUS if identifier_problem(s) is None] == []


def test_reserved_words_cover_duckdb():
    import duckdb

    reserved = {w for (w,) in duckdb.sql(
        "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()}
    assert reserved <= RESERVED_WORDS


@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_hostile_names_are_refused_at_their_line(tmp_path, slot):
    for index, name in enumerate(CORPUS):
        root = tmp_path / str(index)
        files, where = with_name(slot, name)
        write_files(root, files)
        with pytest.raises(PolicyError) as caught:
            load_policies(root)
        reported = [str(p) for p in caught.value.problems]
        assert any(line.startswith(where) for line in reported), (name, where, reported)
        assert all("\n" not in line and len(line) < 400 for line in reported), reported


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[printable(s)[:40] or "empty" for s in CORPUS])
def test_cli_refuses_a_hostile_column_and_writes_nothing(tmp_path, index):
    write_files(tmp_path, BASE)
    runner = CliRunner()
    assert runner.invoke(main, ["compile", "--project-dir", str(tmp_path)]).exit_code == 0
    generated = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and "veil" in p.parts}
    files, where = with_name("column", CORPUS[index])
    write_files(tmp_path, files)
    result = runner.invoke(main, ["compile", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(where), result.output
    assert len(result.output) < 400
    after = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and "veil" in p.parts}
    assert after == generated


# --- free text: one project, compiled and parsed by dbt once -------------------------------------

HOSTILE_FILE = "notes {{ env_var('VEIL_CANARY') }}\n{{ exceptions.raise_compiler_error('boom') }}%}.yml"
PLAIN = "Plain description"
SOURCES = """version: 2
sources:
  - name: raw
    tables:
      - name: users
      - name: notes
      - name: deletion_requests
"""


def free_text_project(root):
    """A project whose descriptions, reasons and a file name are the corpus."""
    columns = [f"  - name: c{i}\n    pii_classification: NON_PII\n    description: {quoted(text)}\n"
               for i, text in enumerate(CORPUS)]
    users = ("table: users\nrelation: \"source('raw', 'users')\"\nsubject: user_id\n"
             f"description: {quoted(CORPUS[0])}\nschema:\n"
             "  - name: user_id\n    pii_classification: PSEUDONYMOUS\n"
             f"  - name: plain\n    pii_classification: NON_PII\n    description: {quoted(PLAIN)}\n"
             + "".join(columns))
    holds = "".join(f"      s{i}: {quoted(text)}\n" for i, text in enumerate(CORPUS))
    veil = ("version: 1\npurposes:\n"
            f"  analytics: {{consent: none, description: {quoted(CORPUS[3])}}}\n"
            f"audiences:\n  analyst: {{purpose: analytics, description: {quoted(CORPUS[4])}}}\n"
            "erasure:\n  relation: \"source('raw', 'deletion_requests')\"\n  subject: user_id\n"
            f"  legal_holds:\n    subjects:\n{holds}    tables:\n      users: {quoted(CORPUS[5])}\n")
    notes = "table: notes\nrelation: \"source('raw', 'notes')\"\nschema:\n  - name: note_id\n    pii_classification: NON_PII\n"
    write_files(root, {
        VEIL_YML: veil, USERS_YML: users, f"policies/tables/{HOSTILE_FILE}": notes,
        "models/sources.yml": SOURCES,
        "dbt_project.yml": "name: hostile\nversion: '1.0'\nconfig-version: 2\nprofile: hostile\n"
                           "model-paths: [models]\nmacro-paths: [macros]\n",
        "profiles.yml": "hostile:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: warehouse.duckdb}\n",
    })
    return root


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    root = free_text_project(tmp_path_factory.mktemp("hostile"))
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    env = {**env_for(root, root / "warehouse.duckdb", key=None), "VEIL_CANARY": CANARY}
    parse = run("dbt", ["parse", "--no-partial-parse"], root, env)
    assert parse.returncode == 0, parse.stdout[-4000:] + parse.stderr[-2000:]
    manifest = json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))
    return root, manifest, parse


@pytest.mark.dbt
def test_dbt_parse_expands_no_canary(parsed):
    root, _, parse = parsed
    assert CANARY not in parse.stdout + parse.stderr
    for path in [*(root / "target").rglob("*"), *(root / "logs").rglob("*")]:
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.dbt
def test_descriptions_reach_the_manifest_as_written(parsed):
    _, manifest, _ = parsed
    columns = manifest["nodes"]["model.hostile.analyst__users"]["columns"]
    suffix = columns["plain"]["description"].removeprefix(f"{PLAIN}. ")
    assert suffix != columns["plain"]["description"]
    for index, text in enumerate(CORPUS):
        base = text.rstrip(".")
        expected = f"{base}. {suffix}" if base else suffix
        assert columns[f"c{index}"]["description"] == expected, (index, text)


@pytest.mark.dbt
def test_a_hostile_file_name_reaches_the_manifest_as_written(parsed):
    _, manifest, _ = parsed
    node = manifest["nodes"]["model.hostile.analyst__notes"]
    shown = printable(f"policies/tables/{HOSTILE_FILE}")
    assert node["config"]["meta"]["veil"]["policy"] == shown
    assert shown in node["description"]


@pytest.mark.dbt
def test_a_hostile_file_name_stays_inside_the_sql_comment(parsed):
    root, _, _ = parsed
    sql = (root / "models/veil/analyst/analyst__notes.sql").read_text(encoding="utf-8")
    header = sql.split("\n")[1]
    assert header.startswith("-- ") and sql.split("\n")[2].startswith("{{ config(")
    rendered = jinja2.Environment().from_string(header).render()
    assert rendered.endswith(f"policy {printable('policies/tables/' + HOSTILE_FILE)}")
