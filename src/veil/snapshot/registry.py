"""What a snapshot records about the warehouse besides its tables: erasure and consent state.

Subjects are recorded as digests, never as ids: the hex SHA-256 of the id's
text as DuckDB casts it to VARCHAR, computed in SQL so an id read from a
model and the same id read from the deletion registry always agree, whatever
their column types.

>>> subject_digest(42) == subject_digest("42")
True
>>> subject_digest(42)[:16]
'73475cb40a568e8d'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
from sqlglot import exp

from veil.errors import UsageError
from veil.policy.loaded import Policies
from veil.policy.relation import parse_relation
from veil.relations import PhysicalRelations

DIGEST_METHOD = "sha256 hex of CAST(subject AS VARCHAR)"


def subject_digest(value: Any) -> str:
    """The digest of one subject id, as `digest_sql` computes it (for ids whose text is `str(value)`)."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def digest_sql(column: exp.Expression) -> exp.Expression:
    """`sha256(CAST(column AS VARCHAR))`: a subject's digest, in SQL."""
    return exp.func("sha256", exp.cast(column, "VARCHAR"))


def timestamp_text(value: Any) -> str | None:
    """A timestamp as ISO text for the manifest (NULL stays None)."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def physical_table(relations: PhysicalRelations, relation: str) -> exp.Table:
    schema, table = relations.locate(parse_relation(relation))
    return exp.table_(exp.to_identifier(table, quoted=True), db=exp.to_identifier(schema, quoted=True))


def _fetch(con: duckdb.DuckDBPyConnection, query: exp.Expression, relation: str) -> list[tuple[Any, ...]]:
    try:
        return con.execute(query.sql(dialect="duckdb")).fetchall()
    except duckdb.CatalogException as exc:
        raise UsageError(f"{relation} cannot be read from the warehouse: {str(exc).splitlines()[0]}") from None
    except duckdb.BinderException as exc:
        raise UsageError(f"{relation}: a column named in policies/veil.yml is missing: "
                         f"{str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class ErasureRegistry:
    """The deletion registry at one moment: its high-water mark and its subjects (as digests)."""

    relation: str
    requests: int
    max_requested_at: str | None
    erased_subjects: tuple[str, ...]

    def high_water_mark(self) -> dict[str, Any]:
        return {"requests": self.requests, "max_requested_at": self.max_requested_at}

    def to_json(self) -> dict[str, Any]:
        return {"relation": self.relation, **self.high_water_mark(), "erased_subjects": list(self.erased_subjects)}


def read_erasure_registry(con: duckdb.DuckDBPyConnection, policies: Policies,
                          relations: PhysicalRelations) -> ErasureRegistry | None:
    """The registry's request count, latest `requested_at` and erased subject digests; None if none is configured."""
    spec = policies.project.erasure
    if spec is None:
        return None
    table = physical_table(relations, spec.relation)
    subject = exp.column(exp.to_identifier(spec.subject, quoted=True))
    requested_at = exp.column(exp.to_identifier(spec.requested_at, quoted=True))
    (count, latest), = _fetch(con, exp.select(exp.Count(this=exp.Star()), exp.func("max", requested_at))
                              .from_(table), spec.relation)
    digests = _fetch(con, exp.select(digest_sql(subject)).distinct().from_(table)
                     .where(subject.is_(exp.null()).not_()), spec.relation)
    return ErasureRegistry(spec.relation, int(count), timestamp_text(latest), tuple(sorted(d for d, in digests)))


def read_consent_as_of(con: duckdb.DuckDBPyConnection, policies: Policies,
                       relations: PhysicalRelations) -> str | None:
    """The latest `recorded_at` of the consent log: the consent state the models reflect."""
    spec = policies.project.consent
    if spec is None:
        return None
    recorded_at = exp.column(exp.to_identifier(spec.recorded_at, quoted=True))
    (latest,), = _fetch(con, exp.select(exp.func("max", recorded_at)).from_(physical_table(relations, spec.relation)),
                        spec.relation)
    return timestamp_text(latest)
