"""Column types as policies name them, and the families strategies care about.

>>> parse_column_type("varchar")
<ColumnType.STRING: 'STRING'>
>>> ColumnType.TIMESTAMP.family
<TypeFamily.TEMPORAL: 'temporal'>
"""

from __future__ import annotations

import enum


class TypeFamily(str, enum.Enum):
    """What a masking strategy needs to know about a column's type."""

    TEXT = "text"
    NUMBER = "number"
    TEMPORAL = "temporal"
    BOOLEAN = "boolean"


class ColumnType(str, enum.Enum):
    """The closed vocabulary of `type:` in a schema contract."""

    STRING = "STRING"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DECIMAL = "DECIMAL"
    DOUBLE = "DOUBLE"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"

    @property
    def family(self) -> TypeFamily:
        return _FAMILIES[self]

    @property
    def sql(self) -> str:
        """The type as sqlglot parses it (for casts such as a typed NULL)."""
        return _SQL_NAMES[self]


_FAMILIES = {
    ColumnType.STRING: TypeFamily.TEXT,
    ColumnType.INTEGER: TypeFamily.NUMBER,
    ColumnType.BIGINT: TypeFamily.NUMBER,
    ColumnType.DECIMAL: TypeFamily.NUMBER,
    ColumnType.DOUBLE: TypeFamily.NUMBER,
    ColumnType.BOOLEAN: TypeFamily.BOOLEAN,
    ColumnType.DATE: TypeFamily.TEMPORAL,
    ColumnType.TIMESTAMP: TypeFamily.TEMPORAL,
}

_SQL_NAMES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INTEGER: "INTEGER",
    ColumnType.BIGINT: "BIGINT",
    ColumnType.DECIMAL: "DECIMAL(38, 9)",
    ColumnType.DOUBLE: "DOUBLE",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}

# Spellings people write in schema contracts, mapped onto the vocabulary.
_ALIASES = {
    "STRING": ColumnType.STRING,
    "VARCHAR": ColumnType.STRING,
    "TEXT": ColumnType.STRING,
    "CHAR": ColumnType.STRING,
    "INTEGER": ColumnType.INTEGER,
    "INT": ColumnType.INTEGER,
    "SMALLINT": ColumnType.INTEGER,
    "BIGINT": ColumnType.BIGINT,
    "LONG": ColumnType.BIGINT,
    "DECIMAL": ColumnType.DECIMAL,
    "NUMERIC": ColumnType.DECIMAL,
    "DOUBLE": ColumnType.DOUBLE,
    "FLOAT": ColumnType.DOUBLE,
    "REAL": ColumnType.DOUBLE,
    "BOOLEAN": ColumnType.BOOLEAN,
    "BOOL": ColumnType.BOOLEAN,
    "DATE": ColumnType.DATE,
    "TIMESTAMP": ColumnType.TIMESTAMP,
    "DATETIME": ColumnType.TIMESTAMP,
    "TIMESTAMPTZ": ColumnType.TIMESTAMP,
}


def parse_column_type(text: str) -> ColumnType:
    """Map a `type:` spelling onto the vocabulary; raise ValueError if unknown.

    >>> parse_column_type("Text").value
    'STRING'
    """
    key = text.strip().upper()
    if key not in _ALIASES:
        known = ", ".join(sorted({t.value for t in ColumnType}))
        raise ValueError(f"unknown type {text!r}; expected one of {known}")
    return _ALIASES[key]
