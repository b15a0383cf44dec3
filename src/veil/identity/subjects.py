"""One canonical text form per subject id, used for rows, holds, CSV cells and counts alike.

An integer subject is written the way the warehouse prints it (`42`, `-7`):
no sign, spaces or leading zeros. A text subject is itself, exactly. An id
that is not already canonical (`' 42'`, `'042'`, `'+42'` for an integer
subject) is refused, never matched loosely: it may name somebody else.

>>> canonical_subject("42", SubjectKind.INTEGER), canonical_subject(" 42", SubjectKind.INTEGER)
('42', None)
>>> canonical_subject("042", SubjectKind.INTEGER), canonical_subject("Ab-1", SubjectKind.TEXT)
(None, 'Ab-1')
>>> loaded_cell("042", SubjectKind.INTEGER), loaded_cell(" x ", SubjectKind.TEXT)
('42', ' x ')
"""

from __future__ import annotations

import enum
import re

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "INT", "INT2", "INT4", "INT8", "LONG", "SHORT")
_CANONICAL_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,18})")
_LOOSE_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


class SubjectKind(str, enum.Enum):
    """How subject ids compare: as integers or as exact text."""

    INTEGER = "integer"
    TEXT = "text"

    @classmethod
    def of_types(cls, sql_types: list[str]) -> SubjectKind:
        """INTEGER when every subject column is an integer type, else TEXT."""
        integer = [t.upper().split("(")[0].strip() in INTEGER_TYPES for t in sql_types]
        return cls.INTEGER if integer and all(integer) else cls.TEXT


def is_integer_type(sql_type: str) -> bool:
    return sql_type.upper().split("(")[0].strip() in INTEGER_TYPES


def canonical_subject(value: object, kind: SubjectKind) -> str | None:
    """The canonical text of an id, or None when `value` is not exactly canonical."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if kind is SubjectKind.INTEGER:
        return text if _CANONICAL_INTEGER.fullmatch(text) and abs(int(text)) < 2**63 else None
    return text if text else None


def loaded_cell(cell: str, kind: SubjectKind) -> str | None:
    """A seed CSV cell as the warehouse loads it, in canonical form (dbt parses `042` as 42)."""
    if kind is SubjectKind.INTEGER:
        return str(int(cell)) if _LOOSE_INTEGER.fullmatch(cell) else None
    return cell
