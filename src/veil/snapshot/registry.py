"""What a snapshot records about the warehouse besides its tables: erasure and consent state.

Subjects are recorded as digests, never as ids: the keyed HMAC-SHA256 of the
id's text as DuckDB casts it to VARCHAR, computed in SQL so an id read from a
model and the same id read from the deletion registry always agree, whatever
their column types.

>>> subject_digest(42, bytes(32)) == subject_digest("42", bytes(32))
True
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from veil.errors import UsageError
from veil.hmac_sql import DIGEST_FUNCTION, subject_digest_key
from veil.policy.loaded import Policies
from veil.policy.relation import parse_relation
from veil.relations import PhysicalRelations

DIGEST_METHOD = "HMAC-SHA256 hex (the subject-digest key, HKDF of veil's hmac key) of CAST(subject AS VARCHAR)"


def subject_digest(value: Any, key: bytes) -> str:
    """The digest of one subject id, as `digest_sql` computes it (for ids whose text is `str(value)`).

    Keyed (HMAC-SHA256 under the subject-digest key, derived from veil's `hmac`
    key with its own HKDF label): a plain hash of a numeric id is reversed by
    trying every id, and a digest under the pseudonym key itself would equal the
    subject's pseudonym in every masked dataset, telling who asked to be erased.
    """
    return hmac.new(subject_digest_key(key), str(value).encode("utf-8"), hashlib.sha256).hexdigest()


def digest_sql(column: exp.Expression) -> exp.Expression:
    """`veil_subject_digest(CAST(column AS VARCHAR))`: a subject's digest, in SQL (the plugin's keyed function)."""
    return exp.Anonymous(this=DIGEST_FUNCTION, expressions=[exp.cast(column, "VARCHAR")])


def keyed_connection(database: Path, env) -> duckdb.DuckDBPyConnection:
    """A read-only warehouse connection with the keyed digest registered; UsageError without keys."""
    from veil.duckdb_functions import register_functions
    from veil.keyring import load_keyring

    keyring = load_keyring(env)
    if keyring is None:
        raise UsageError("snapshots digest subject ids with veil's hmac key: set VEIL_KEYRING or VEIL_KEY")
    from veil.warehouse.duckdb import connect_file

    con = connect_file(database, read_only=True)
    register_functions(con, keyring, env)
    return con


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
