"""Input limits (issue 11): policy files that are too big, too deep, empty or not text.

Each is refused through the CLI with exit 2 and one short message naming the
file (and its line where there is one), never a traceback, and early: an
alias bomb is refused while composing, before anything is expanded.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import load_fixture, write_files

from veil.cli import main
from veil.policy import limits, yaml_lines

BASE = load_fixture("policy_errors.yml")["base"]
VEIL_YML = "policies/veil.yml"
USERS_YML = "policies/tables/users.yml"
MAX_OUTPUT = 1000   # characters of the whole error output: one or two bounded lines


def alias_bomb(levels: int = 8, width: int = 9) -> str:
    """Billion laughs: `width ** levels` values from a few hundred bytes."""
    lines = ["version: 1", "a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def alias_chain(levels: int = 200) -> str:
    """Each alias nests the previous one a level deeper: shallow text, deep document."""
    lines = ["table: users", "d0: &d0 [x]"] + [f"d{i}: &d{i} [*d{i - 1}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nschema: [{name: user_id}]\n"


@pytest.fixture
def project(tmp_path):
    """The valid base project, compiled once: its generated files exist."""
    write_files(tmp_path, BASE)
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path


def generated(root):
    return {p: p.read_bytes() for p in sorted((root / "models" / "veil").rglob("*")) if p.is_file()}


def refused(root, path: str, content: str | bytes) -> str:
    """Write `content` at `path`, compile, and return the error output of the exit-2 refusal."""
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    before = generated(root)
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert len(result.output) < MAX_OUTPUT, result.output[:2000]
    assert generated(root) == before, "a refused compile changed generated files"
    return result.output


def test_alias_bomb_in_veil_yml_is_refused_early(project):
    bomb = alias_bomb()
    assert len(bomb) < 2500
    output = refused(project, VEIL_YML, bomb)
    assert output.startswith(f"{VEIL_YML}:")
    assert "aliases" in output and f"more than {limits.MAX_NODES} values" in output


def test_alias_bomb_in_a_table_file_is_refused(project):
    output = refused(project, USERS_YML, alias_bomb().replace("version: 1", "table: users"))
    assert output.startswith(f"{USERS_YML}:") and "aliases" in output


def test_a_few_aliases_are_fine(project):
    text = BASE[USERS_YML].replace("    pii_classification: NON_PII", "    pii_classification: &public NON_PII")
    text += "  - name: updated_at\n    type: TIMESTAMP\n    pii_classification: *public\n"
    write_files(project, {USERS_YML: text})
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("text", [
    "version: " + "[" * 20_000 + "\n",
    "version: " + "{a: " * 20_000 + "\n",
    "version: 1\nx:\n" + "- " * 20_000 + "x\n",
    "version: 1\nx:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(100)),
], ids=["flow_sequences", "flow_mappings", "block_sequences", "block_mappings"])
def test_deep_nesting_is_refused_at_its_line(project, text):
    output = refused(project, VEIL_YML, text)
    assert output.startswith(f"{VEIL_YML}:") and f"nested deeper than {limits.MAX_DEPTH} levels" in output


def test_depth_through_aliases_is_refused(project):
    output = refused(project, USERS_YML, alias_chain())
    assert output.startswith(f"{USERS_YML}:") and "nested deeper than" in output and "aliases" in output


def test_an_alias_inside_its_own_anchor_is_refused(project):
    output = refused(project, USERS_YML, "table: &t [*t]\nschema: [{name: user_id}]\n")
    assert output.startswith(f"{USERS_YML}:1: an alias refers to a node that contains it")


def test_too_many_values_without_aliases(project, monkeypatch):
    monkeypatch.setattr(yaml_lines, "MAX_NODES", 500)
    output = refused(project, USERS_YML, "table: users\nx: [" + ", ".join(["1"] * 600) + "]\n")
    assert "it holds more than 500 values" in output


def test_a_file_over_the_size_limit_is_refused_unread(project):
    text = "table: users\n# " + "x" * limits.MAX_FILE_BYTES + "\n"
    output = refused(project, USERS_YML, text)
    assert output.startswith(f"{USERS_YML}: too large for a policy file")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "---\n", "~\n"],
                         ids=["empty", "blank_lines", "comments", "document_marker", "null"])
def test_an_empty_table_file_is_an_error_and_keeps_its_models(project, text):
    output = refused(project, USERS_YML, text)
    assert output.startswith(f"{USERS_YML}:1: the file holds no policy")
    assert (project / "models/veil/analyst/analyst__users.sql").is_file()


def test_an_empty_veil_yml_is_an_error(project):
    output = refused(project, VEIL_YML, "")
    assert output.startswith(f"{VEIL_YML}:1: the file holds no policy")


@pytest.mark.parametrize("content, line, message", [
    (b"table: users\n\x00\x01\x02PNG\r\n", 2, "not text: a NUL byte"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8 text (byte 0x89): a binary file"),
    (b"table: users\nschema: \xff\xfe\n", 2, "not UTF-8 text (byte 0xff)"),
    ("table: users\nschema:\n  - name: café\n".encode("latin-1"), 3, "not UTF-8 text (byte 0xe9)"),
    ("table: users\n".encode("utf-16"), 1, "not UTF-8 text (byte 0xff)"),
    (b"table: users\ndescription: \x1b[2J\n", 2, "not text: the control character U+001B"),
], ids=["nul_bytes", "png", "invalid_bytes", "latin_1", "utf_16", "escape_character"])
def test_binary_and_non_utf8_files_get_a_line(project, content, line, message):
    output = refused(project, USERS_YML, content)
    assert output.startswith(f"{USERS_YML}:{line}: {message}"), output


@pytest.mark.parametrize("text, line, message", [
    ("table: users\nevent_time: 2024-13-45\nschema: [{name: user_id}]\n", 2, "cannot read this value"),
    ("table: " + "9" * 6000 + "\nschema: [{name: user_id}]\n", 1, "cannot read this value"),
    ('table: users\ndescription: "\\ud800"\nschema: [{name: user_id}]\n', 2, "not valid Unicode"),
    ("table: users\n? [a, b]\n: 1\nschema: [{name: user_id}]\n", 2, "a key must be a plain value"),
    ("table: users\ntable: again\nschema: [{name: user_id}]\n", 2, "YAML syntax error: duplicate key 'table'"),
], ids=["impossible_date", "huge_integer", "lone_surrogate", "list_as_key", "duplicate_key"])
def test_values_yaml_cannot_build_are_errors_at_their_line(project, text, line, message):
    output = refused(project, USERS_YML, text)
    assert output.startswith(f"{USERS_YML}:{line}: {message}"), output


def test_echoed_input_is_truncated(project):
    long_key = "k" * 1000   # PyYAML's limit for a plain key
    output = refused(project, USERS_YML, BASE[USERS_YML] + f"{long_key}: 1\nerasure: {'e' * 100_000}\n")
    assert "unknown key 'kkk" in output and "(1000 characters)" in output
    assert "got 'eee" in output and "(100000 characters)" in output
    assert all(len(line) < 400 for line in output.splitlines())


def test_a_directory_named_like_a_policy_is_refused(project):
    (project / "policies/tables/folder.yml").mkdir()
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(project)])
    assert result.exit_code == 2
    assert "policies/tables/folder.yml: not a regular file" in result.output


@pytest.mark.parametrize("error", [RecursionError, MemoryError])
def test_recursion_and_memory_errors_become_policy_errors(project, monkeypatch, error):
    from veil.policy import load

    def explode(text, path):
        raise error()

    monkeypatch.setattr(load, "load_yaml_text", explode)
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(project)])
    assert result.exit_code == 2, result.output
    assert f"{VEIL_YML}: too" in result.output and "Traceback" not in result.output
