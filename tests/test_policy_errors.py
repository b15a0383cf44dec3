"""Bad policies exit 2 with `path:line: key: message`, no traceback, nothing written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from helpers import apply_case, load_fixture, write_files
from veil.cli import main
from veil.errors import PolicyError
from veil.policy.load import load_policies

FIXTURE = load_fixture("policy_errors.yml")
CASES = FIXTURE["cases"]


def test_base_fixture_is_valid(tmp_path):
    policies = load_policies(write_files(tmp_path, FIXTURE["base"]))
    assert list(policies.tables) == ["users"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_error_is_reported_at_its_line(tmp_path, case):
    write_files(tmp_path, apply_case(FIXTURE["base"], case))
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path)
    reported = [str(p) for p in caught.value.problems]
    for expected in case["expect"]:
        assert any(line.startswith(expected) for line in reported), f"{expected!r} not in {reported}"
    assert len(reported) == len(case["expect"]), reported


def test_at_least_ten_distinct_mistakes_are_covered():
    assert len({c["name"] for c in CASES}) >= 10


@pytest.mark.parametrize("case", CASES[:6] + CASES[8:9], ids=[c["name"] for c in CASES[:6] + CASES[8:9]])
def test_cli_exits_2_without_traceback_and_leaves_generated_files(tmp_path, case):
    write_files(tmp_path, FIXTURE["base"])
    runner = CliRunner()
    first = runner.invoke(main, ["compile", "--project-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    generated = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "veil" in p.parts[-3:]}
    assert generated
    write_files(tmp_path, apply_case(FIXTURE["base"], case))
    result = runner.invoke(main, ["compile", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert case["expect"][0] in result.output
    after = {p: p.read_bytes() for p in generated}
    assert after == generated
