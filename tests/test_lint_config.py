"""`[tool.veil.lint]`: defaults, a full table, and each kind of mistake at its line."""

from __future__ import annotations

import pytest

from veil.errors import ProblemsError
from veil.lint.config import KNOWN_RULES, LintConfig, LintConfigError, load_lint_config
from veil.lint.findings import Severity

FULL = """\
[project]
name = "shop"

[tool.veil.lint]
enable = ["VL001", "VL002", "VL003"]
disable = ["VL003"]
severity = { VL001 = "warning" }
dialect = "postgres"
purpose = "analytics"
jobs = 4
exclude = ["models/legacy/*", "target"]

[tool.ruff]
line-length = 100
"""


def write(tmp_path, text: str):
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_defaults_without_pyproject(tmp_path):
    config = load_lint_config(tmp_path)
    assert config == LintConfig()
    assert (config.enable, config.disable, config.severity) == (None, [], {})
    assert (config.dialect, config.purpose, config.jobs, config.exclude) == ("duckdb", None, 1, [])
    assert all(config.is_enabled(code) for code in KNOWN_RULES)
    assert config.severity_of("VL004", Severity.WARNING) is Severity.WARNING


def test_defaults_without_the_table(tmp_path):
    assert load_lint_config(write(tmp_path, '[project]\nname = "x"\n[tool.veil]\nother = 1\n')) == LintConfig()


def test_full_table_is_parsed(tmp_path):
    config = load_lint_config(write(tmp_path, FULL))
    assert config.enable == ["VL001", "VL002", "VL003"]
    assert config.disable == ["VL003"]
    assert config.severity == {"VL001": Severity.WARNING}
    assert (config.dialect, config.purpose, config.jobs) == ("postgres", "analytics", 4)
    assert config.exclude == ["models/legacy/*", "target"]
    assert [code for code in KNOWN_RULES if config.is_enabled(code)] == ["VL001", "VL002"]
    assert config.severity_of("VL001", Severity.ERROR) is Severity.WARNING
    assert config.severity_of("VL002", Severity.ERROR) is Severity.ERROR
    assert config.is_excluded("models/legacy/old.sql")
    assert config.is_excluded("target/compiled/x.sql")
    assert not config.is_excluded("models/marts/orders.sql")


def test_severity_as_a_subtable(tmp_path):
    text = '[tool.veil.lint]\njobs = 2\n\n[tool.veil.lint.severity]\nVL002 = "warning"\n'
    assert load_lint_config(write(tmp_path, text)).severity == {"VL002": Severity.WARNING}


BAD = [
    # (id, lines of [tool.veil.lint] (the table opens on line 3), key, line, words in the message)
    ("unknown-key", 'colour = "always"', "colour", 4, "unknown key 'colour'"),
    ("misspelled-key", 'disabel = ["VL001"]', "disabel", 4, "did you mean 'disable'"),
    ("unknown-rule-enabled", 'enable = ["VL001", "VL099"]', "enable", 4, "unknown rule 'VL099'"),
    ("unknown-rule-disabled", 'dialect = "duckdb"\ndisable = ["select-star"]', "disable", 5, "select-star"),
    ("unknown-rule-severity", 'severity = { VL007 = "error" }', "severity", 4, "VL007"),
    ("bad-severity", 'severity = { VL001 = "fatal" }', "severity.VL001", 4, "'error' or 'warning', got 'fatal'"),
    ("bad-severity-subtable", 'jobs = 1\n[tool.veil.lint.severity]\nVL002 = "info"', "severity.VL002", 6, "'info'"),
    ("enable-not-a-list", 'enable = "VL001"', "enable", 4, "valid list"),
    ("jobs-not-an-int", 'jobs = "4"', "jobs", 4, "valid integer"),
    ("jobs-a-bool", 'jobs = true', "jobs", 4, "valid integer"),
    ("jobs-zero", 'jobs = 0', "jobs", 4, "greater than or equal to 1"),
    ("purpose-not-a-string", 'purpose = 3', "purpose", 4, "valid string"),
    ("exclude-not-strings", 'exclude = ["a", 1]', "exclude[1]", 4, "valid string"),
    ("unknown-dialect", 'dialect = "cobol"', "dialect", 4, "unknown SQL dialect 'cobol'"),
]


@pytest.mark.parametrize("key_lines, key, line, words", [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_bad_config_names_file_line_and_key(tmp_path, key_lines, key, line, words):
    write(tmp_path, f'[project]\nname = "x"\n[tool.veil.lint]\n{key_lines}\n')
    with pytest.raises(LintConfigError) as caught:
        load_lint_config(tmp_path)
    assert isinstance(caught.value, ProblemsError)
    assert len(caught.value.problems) == 1, str(caught.value)
    assert str(caught.value).startswith(f"pyproject.toml:{line}: tool.veil.lint.{key}: "), str(caught.value)
    assert words in str(caught.value)


def test_every_mistake_is_reported_at_once(tmp_path):
    write(tmp_path, '[tool.veil.lint]\njobs = 0\nbogus = 1\n')
    with pytest.raises(LintConfigError) as caught:
        load_lint_config(tmp_path)
    assert [str(p).split(": ")[0:2] for p in caught.value.problems] == [
        ["pyproject.toml:2", "tool.veil.lint.jobs"], ["pyproject.toml:3", "tool.veil.lint.bogus"]]


def test_dotted_keys_are_found(tmp_path):
    write(tmp_path, '[tool]\nveil.lint.jobs = 2\nveil.lint.dialect = "cobol"\n')
    with pytest.raises(LintConfigError, match=r"pyproject.toml:3: tool.veil.lint.dialect: "):
        load_lint_config(tmp_path)


def test_lint_that_is_not_a_table(tmp_path):
    write(tmp_path, '[tool.veil]\nlint = "strict"\n')
    with pytest.raises(LintConfigError, match=r"pyproject.toml:2: tool.veil.lint: must be a table"):
        load_lint_config(tmp_path)


def test_toml_syntax_error_names_its_line(tmp_path):
    write(tmp_path, '[tool.veil.lint]\njobs = 2\ndialect = \n')
    with pytest.raises(LintConfigError, match=r"^pyproject.toml:3: TOML syntax error"):
        load_lint_config(tmp_path)


def test_disable_wins_over_enable():
    config = LintConfig(enable=["VL001"], disable=["VL001"])
    assert not config.is_enabled("VL001")
    assert not config.is_enabled("VL002")


def test_every_rule_is_configurable():
    from veil.lint.rules import RULES

    assert set(KNOWN_RULES) == {rule.info.code for rule in RULES}
