"""Reading a SQL file's text: positions, veil comments, Jinja.

veil's directives live in comments only, as the SQL tokenizer sees them: a
string literal that happens to contain `-- veil: ignore VL002 ...` or
`-- veil: purpose=...` is data, never an instruction.

>>> text = "-- veil: purpose=analytics\\nselect *  -- veil: ignore VL001 staging dump\\nfrom t"
>>> file_purpose(text), suppressions(text)
(('analytics', 1), ({2: {'VL001'}, 3: {'VL001'}}, []))
>>> position(text, text.index("from"))
(3, 1)
>>> file_purpose("select '-- veil: purpose=marketing' as s"), suppressions("select '-- veil: ignore VL002 x'")
(None, ({}, []))
>>> suppressions("select 1 -- veil: ignore VL001")[1]
[(1, 10, 'a `-- veil: ignore` needs a reason after the rule codes: say why the finding is acceptable')]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator

PURPOSE_DIRECTIVE = re.compile(r"^\s*veil:\s*purpose\s*=\s*([A-Za-z0-9_.]+)")
IGNORE_DIRECTIVE = re.compile(r"^\s*veil:\s*ignore\b(.*)$", re.DOTALL)
CODES = re.compile(r"^\s*((?:VL\d{3}\s*,?\s*)*)(.*)$", re.DOTALL)
JINJA = re.compile(r"\{\{|\{%|\{#")
UNSUPPRESSIBLE = {"VL900", "VL901", "VL902"}   # the statement was not analysed: nothing to excuse


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


# one pass in C: strings (E'' with backslash escapes), quoted identifiers, $tag$ bodies, then comments
_LEXEMES = re.compile(r"""
    (?<![A-Za-z0-9_])[eE]'(?:[^'\\]|\\.|'')*'?   # E'...' with backslash escapes
  | '(?:[^']|'')*'?                                # '...', '' escapes; unterminated runs to the end
  | "(?:[^"]|"")*"?                                # "identifier"
  | \$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?(?:\$(?P=tag)\$|\Z)   # $$ ... $$, $tag$ ... $tag$
  | (?P<line>--[^\n]*)
  | (?P<block>/\*.*?(?:\*/|\Z))
""", re.VERBOSE | re.DOTALL)


def comments(text: str) -> Iterator[tuple[int, str]]:
    """(offset, body) of every `--` and `/* */` comment, skipping strings, identifiers and $$ bodies.

    >>> [body for _, body in comments("select 'a -- b', \\"c--d\\" -- real\\n/* block */ $$ -- no $$")]
    [' real', ' block ']
    >>> [body for _, body in comments("select E'it\\\\'s -- no', 1 -- yes")]
    [' yes']
    """
    yield from _comments(text)


@functools.lru_cache(maxsize=16)
def _comments(text: str) -> tuple[tuple[int, str], ...]:
    """The comments of a text, lexed once however many readers ask (purpose, suppressions...)."""
    found = []
    for match in _LEXEMES.finditer(text):
        if match.group("line") is not None:
            found.append((match.start(), match.group("line")[2:]))
        elif match.group("block") is not None:
            body = match.group("block")[2:]
            found.append((match.start(), body[:-2] if body.endswith("*/") else body))
    return tuple(found)


def file_purpose(text: str) -> tuple[str, int] | None:
    """The purpose a `-- veil: purpose=P` comment declares, and its line."""
    for offset, body in comments(text):
        match = PURPOSE_DIRECTIVE.match(body)
        if match:
            return match.group(1), position(text, offset)[0]
    return None


def suppressions(text: str, known: Collection[str] | None = None
                 ) -> tuple[dict[int, set[str]], list[tuple[int, int, str]]]:
    """Lines whose findings of the named rules are suppressed (the comment's line and the next),
    and the problems of malformed suppressions as (line, column, message).

    A suppression needs rule codes and a reason; VL900, VL901 and VL902 cannot
    be suppressed by a comment; with `known`, an unknown code is a problem.
    """
    ignored: dict[int, set[str]] = {}
    problems: list[tuple[int, int, str]] = []
    for offset, body in comments(text):
        match = IGNORE_DIRECTIVE.match(body)
        if not match:
            continue
        line, column = position(text, offset)
        codes_text, reason = CODES.match(match.group(1)).groups()
        codes = set(re.findall(r"VL\d{3}", codes_text))
        if not codes:
            problems.append((line, column, "a `-- veil: ignore` must name the rules it silences, e.g. "
                                           "`-- veil: ignore VL001 <reason>`"))
            continue
        if not reason.strip():
            problems.append((line, column, "a `-- veil: ignore` needs a reason after the rule codes: say why the "
                                           "finding is acceptable"))
            continue
        for code in sorted(codes & UNSUPPRESSIBLE):
            problems.append((line, column, f"{code} cannot be suppressed by a comment: the statement was not "
                                           "analysed; fix it, or exclude the file in [tool.veil.lint]"))
        for code in sorted(codes - set(known or codes) - UNSUPPRESSIBLE):
            problems.append((line, column, f"unknown rule {code} in a `-- veil: ignore` comment"))
        for target in (line, line + 1):
            ignored.setdefault(target, set()).update(codes - UNSUPPRESSIBLE)
    return ignored, problems


def jinja_position(text: str) -> tuple[int, int] | None:
    """Where the first Jinja tag is, if the file is an uncompiled template."""
    match = JINJA.search(text)
    return position(text, match.start()) if match else None
