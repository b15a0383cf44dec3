"""Names that reach generated SQL: tables, columns, audiences.

A policy name becomes a SQL identifier in generated models, a string in the
generic tests' SQL and a name in dbt's yml, all of which dbt renders as Jinja.
So a name must be an identifier every target accepts as written, without
quoting: ASCII letters, digits and `_`, not starting with a digit, at most 63
characters (PostgreSQL's limit) and no reserved word of DuckDB or PostgreSQL.
Such a name cannot carry Jinja, quotes, `;`, comments or a line break.

Names that would need quoting (`Order Date`, `order`, `Straße`) are refused:
rename the column in a staging model, then write its policy.

>>> identifier_problem("user_id") is None
True
>>> identifier_problem("country{% do run_query('drop table x') %}")
'"country{% do run_query(\\'drop table x\\') %}" is not a valid name: use ASCII letters, digits and _, not starting with a digit'
>>> identifier_problem("order")
"'order' is a reserved SQL word: rename it (e.g. in a staging model) to a name that needs no quoting"
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

from veil.policy.limits import echo

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
MAX_IDENTIFIER = 63

# DuckDB: duckdb_keywords() of category 'reserved' or 'type_function' that fail as a bare column name.
_DUCKDB_RESERVED = """
all analyse analyze and anti any array as asc asof asymmetric at authorization binary both by case cast
check collate collation column concurrently constraint create cross default deferrable desc describe
distinct do else end except false fetch for foreign freeze from full glob group having ilike in initially
inner intersect into is isnull join lambda lateral leading left like limit natural not notnull null offset
on only or order outer overlaps pivot pivot_longer pivot_wider placing positional primary qualify
references returning right select semi show similar some summarize symmetric table tablesample then to
trailing true union unique unpack unpivot using variadic verbose when where window with
"""
# PostgreSQL: the key words marked reserved (also "can be function or type") in its appendix C.
_POSTGRES_RESERVED = """
all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
collation column concurrently constraint create cross current_catalog current_date current_role
current_schema current_time current_timestamp current_user default deferrable desc distinct do else end
except false fetch for foreign freeze from full grant group having ilike in initially inner intersect into
is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null offset on
only or order outer overlaps placing primary references returning right select session_user similar some
symmetric system_user table tablesample then to trailing true union unique user using variadic verbose
when where window with
"""
RESERVED_WORDS = frozenset(_DUCKDB_RESERVED.split()) | frozenset(_POSTGRES_RESERVED.split())


def identifier_problem(name: Any) -> str | None:
    """Why `name` cannot be a name in generated SQL, or None when it can."""
    if not isinstance(name, str):
        return f"expected a name, got {echo(name)}"
    if not IDENTIFIER.fullmatch(name):
        return f"{echo(name)} is not a valid name: use ASCII letters, digits and _, not starting with a digit"
    if len(name) > MAX_IDENTIFIER:
        return f"{echo(name)} is too long for a SQL name ({len(name)} characters, at most {MAX_IDENTIFIER})"
    if name.lower() in RESERVED_WORDS:
        return f"{name!r} is a reserved SQL word: rename it (e.g. in a staging model) to a name that needs no quoting"
    return None


def _check_identifier(name: str) -> str:
    problem = identifier_problem(name)
    if problem:
        raise ValueError(problem)
    return name


Identifier = Annotated[str, AfterValidator(_check_identifier)]
"""A `str` field holding a table or column name (see the module docstring)."""
