"""The README is the manual: two commands first, every command documented."""

from __future__ import annotations

import click

from helpers import REPO
from veil.cli import main

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "veil") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
    assert "make test" in (REPO / ".ci/run").read_text()


def test_every_command_and_option_is_documented():
    for command in _commands(main):
        assert f"### `{command}" in README, f"{command} has no section in the README"
    for name, command in main.commands.items():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in README, f"veil {name} {opt} is not documented"


def test_every_strategy_is_documented():
    from veil.strategies import STRATEGIES

    for name in STRATEGIES:
        assert f"| `{name}` |" in README
