"""Reading a SQL file's text: positions, veil comments, Jinja.

>>> text = "-- veil: purpose=analytics\\nselect *  -- veil: ignore VL001 staging dump\\nfrom t"
>>> file_purpose(text), suppressions(text)
(('analytics', 1), {2: {'VL001'}, 3: {'VL001'}})
>>> position(text, text.index("from"))
(3, 1)
"""

from __future__ import annotations

import re

PURPOSE_COMMENT = re.compile(r"--\s*veil:\s*purpose\s*=\s*([A-Za-z0-9_.]+)")
IGNORE_COMMENT = re.compile(r"--\s*veil:\s*ignore\s+((?:VL\d{3}\s*,?\s*)+)(.*)$")
JINJA = re.compile(r"\{\{|\{%|\{#")


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def file_purpose(text: str) -> tuple[str, int] | None:
    """The purpose a `-- veil: purpose=P` comment declares, and its line."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = PURPOSE_COMMENT.search(line)
        if match:
            return match.group(1), number
    return None


def suppressions(text: str) -> dict[int, set[str]]:
    """Lines whose findings of some rules are suppressed: the comment's line and the next."""
    ignored: dict[int, set[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = IGNORE_COMMENT.search(line)
        if match:
            codes = set(re.findall(r"VL\d{3}", match.group(1)))
            for target in (number, number + 1):
                ignored.setdefault(target, set()).update(codes)
    return ignored


def jinja_position(text: str) -> tuple[int, int] | None:
    """Where the first Jinja tag is, if the file is an uncompiled template."""
    match = JINJA.search(text)
    return position(text, match.start()) if match else None
