"""One small error hierarchy. Every user-facing error knows where it comes from.

The CLI prints `path:line: key: message` for each problem and exits 2.

>>> err = PolicyError([Problem("policies/tables/users.yml", 7, "schema[1].type", "unknown type 'STRNG'")])
>>> print(err)
policies/tables/users.yml:7: schema[1].type: unknown type 'STRNG'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one file, at one line, under one key."""

    path: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class VeilError(Exception):
    """Base of every error veil reports to a user (exit code 2)."""

    exit_code = 2


class ProblemsError(VeilError):
    """An error carrying every problem found in one run, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.path, p.line or 0, p.key or "", p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class PolicyError(ProblemsError):
    """The policies are malformed or inconsistent."""


class CompileError(ProblemsError):
    """The policies are valid but cannot be compiled (e.g. a missing relation)."""


class KeyConfigError(VeilError):
    """A key is missing, unreadable or malformed."""


class UsageError(VeilError):
    """A command was called with arguments that cannot work."""


class DecryptionError(VeilError):
    """A ciphertext or token cannot be reversed: altered, misplaced, or its key is unknown."""
