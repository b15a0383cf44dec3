"""How much input a policy file may be, and how much of it an error may echo.

Policies are small hand-written files; anything far larger is a mistake or an
attack (an alias bomb, thousands of nested brackets), so loading refuses it
early, at a line, instead of running out of memory or stack.

>>> echo("analytcs")
"'analytcs'"
>>> len(echo("x" * 10_000)) <= MAX_ECHO + 30
True
>>> echo("a\\nb")
"'a\\\\nb'"
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_FILE_BYTES = 1024 * 1024      # one policy file
MAX_DEPTH = 64                    # nested mappings and sequences, aliases expanded
MAX_NODES = 100_000               # values of one document, aliases expanded
MAX_ECHO = 120                    # characters of user input quoted back in a message
MAX_KEY = 120                     # characters of a problem's key path
MAX_MESSAGE = 1_000               # characters of one problem's message


class _Repr(reprlib.Repr):
    """reprlib that also abbreviates the located dict and list subclasses (without a full repr)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple, self.maxset = 3, 4, 6, 6, 6
        self.maxstring = self.maxother = self.maxlong = MAX_ECHO

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, dict) and type(x) is not dict:
            return self.repr_dict(x, level)
        if isinstance(x, list) and type(x) is not list:
            return self.repr_list(x, level)
        if isinstance(x, str) and type(x) is not str:
            return self.repr_str(str(x), level)
        return super().repr1(x, level)


_REPR = _Repr()


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def echo(value: Any) -> str:
    """A short, single-line repr of user input for an error message."""
    if isinstance(value, str):
        shown = repr(str(value[:MAX_ECHO]))
        if len(value) <= MAX_ECHO and len(shown) <= MAX_ECHO:
            return shown
        return f"{shown[:MAX_ECHO]}... ({len(value)} characters)"
    return clip(_REPR.repr(value), MAX_ECHO)


def printable(text: str) -> str:
    """`text` with every unprintable character (newline, NUL, escape, a lone surrogate) escaped.

    >>> printable("policies/tables/a\\nb.yml")
    'policies/tables/a\\\\nb.yml'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
