"""Bounded samples of tables: from a DuckDB warehouse (attached read-only) or from a dbt seed's CSV file.

One in-memory DuckDB connection reads everything: the warehouse is attached
read-only as `veil_wh`, each seed file is a view over `read_csv` with the
seed's `column_types`. A table is sampled with
`USING SAMPLE reservoir(N ROWS) REPEATABLE (42)`: at most N rows, the same
ones every run, however wide or long the table. DuckDB counts over the N
rows; Python fetches at most `VALUE_ROWS` of them for the validators.

>>> import duckdb, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "w.duckdb"
>>> with duckdb.connect(str(path)) as con:
...     _ = con.execute("CREATE TABLE users AS SELECT range AS id, 'u' || range || '@x.org' AS email FROM range(5000)")
>>> with Sampler(path) as sampler:
...     [ref] = sampler.warehouse_tables()
...     table = sampler.sample(ref, rows=1000)
>>> ref.key, table.rows, [(c.name, c.type, len(c.values), c.non_null, c.distinct) for c in table.columns]
('main.users', 1000, [('id', 'BIGINT', 500, 1000, 1000), ('email', 'VARCHAR', 500, None, None)])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from veil.classify.names import tokens
from veil.classify.values import ColumnSample
from veil.warehouse.base import WarehouseError
from veil.warehouse.duckdb import translate_error

#: Rows sampled per table unless `--sample` says otherwise.
DEFAULT_SAMPLE = 2000
#: Of those, rows fetched for the validators (their distinct values, at most MAX_SCAN per column).
VALUE_ROWS = 500
MAX_SCAN = 500
_KEY_WORDS = frozenset("id key uuid guid nr no num number nummer ref code".split())


def _key_like(name: str) -> bool:
    """A name a key could have (its distinct values are counted exactly): `id`, `customer_id`, `Kundennummer`."""
    words = tokens(name)
    return bool(words) and (words[-1] in _KEY_WORDS or words[0] in _KEY_WORDS
                            or "".join(words).endswith(("id", "nummer", "uuid")))
_ALIAS = "veil_wh"


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableRef:
    """A table to classify: where it lives and what dbt calls it.

    `key` is `schema.table` as the warehouse names it; `relation` the dbt
    relation (`source('s', 't')`, `ref('seed')`) when it comes from a project.
    """

    schema: str
    name: str
    relation: str | None = None
    policy_name: str | None = None
    kind: str = "table"                                  # table, source or seed
    csv: Path | None = None
    column_types: dict[str, str] = field(default_factory=dict)
    declared: tuple[str, ...] = ()                       # columns the manifest declares
    delimiter: str = ","

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def label(self) -> str:
        return f"{self.key} ({self.relation})" if self.relation else self.key


@dataclass(frozen=True)
class TableSample:
    """A sampled table: its columns with their values, and where they came from."""

    ref: TableRef
    columns: list[ColumnSample]
    rows: int
    origin: str                  # warehouse, csv or names

    def column(self, name: str) -> ColumnSample | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


def _seed_type(duckdb_type: str, pinned: bool) -> str:
    """The type dbt gives a seed column: its `column_types` entry, else agate's inference (integers: INTEGER)."""
    if pinned:
        return duckdb_type
    return "INTEGER" if duckdb_type in {"BIGINT", "HUGEINT", "SMALLINT", "TINYINT"} else duckdb_type


class Sampler:
    """Reads samples; a context manager owning one in-memory DuckDB connection."""

    def __init__(self, database: Path | None = None):
        self.database = database
        self.con = duckdb.connect()
        self._views: dict[Path, str] = {}
        self._tables: dict[tuple[str, str], tuple[str, str]] | None = None
        if database is not None:
            if not Path(database).is_file():
                self.con.close()
                raise WarehouseError(f"warehouse {database} not found (pass --database FILE, an existing DuckDB file)")
            try:
                self.con.execute(f"ATTACH {_literal(str(database))} AS {_ALIAS} (READ_ONLY)")
            except duckdb.Error as exc:
                self.con.close()
                raise translate_error(exc, str(database)) from None

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # -- what the warehouse holds

    def _catalog(self) -> dict[tuple[str, str], tuple[str, str]]:
        if self._tables is None:
            self._tables = {}
            if self.database is not None:
                rows = self.con.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
                    "ORDER BY 1, 2", [_ALIAS]).fetchall()
                self._tables = {(s.lower(), t.lower()): (s, t) for s, t in rows}
        return self._tables

    def warehouse_tables(self, schema: str | None = None) -> list[TableRef]:
        """Every table and view of the warehouse (of one schema)."""
        return [TableRef(s, t, policy_name=t) for s, t in self._catalog().values()
                if schema is None or s.lower() == schema.lower()]

    def in_warehouse(self, ref: TableRef) -> TableRef | None:
        """The ref with the warehouse's own spelling of its schema and name, or None when it is not there."""
        found = self._catalog().get((ref.schema.lower(), ref.name.lower()))
        if found is None:
            return None
        return TableRef(found[0], found[1], ref.relation, ref.policy_name, ref.kind, ref.csv, ref.column_types,
                        ref.declared, ref.delimiter)

    # -- reading

    def _source(self, ref: TableRef) -> tuple[str, str] | None:
        """(FROM expression, origin) for a ref, or None when neither the warehouse nor a CSV file has it."""
        located = self.in_warehouse(ref)
        if located is not None:
            return f"{_ALIAS}.{quote(located.schema)}.{quote(located.name)}", "warehouse"
        if ref.csv is not None and ref.csv.is_file():
            if ref.csv not in self._views:
                view = f"veil_csv_{len(self._views)}"
                types = ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in ref.column_types.items())
                options = f", types = {{{types}}}" if types else ""
                try:
                    self.con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_csv({_literal(str(ref.csv))}, "
                                     f"header = true, delim = {_literal(ref.delimiter)}{options})")
                except duckdb.Error as exc:
                    raise WarehouseError(f"{ref.csv}: cannot read the seed file: {str(exc).splitlines()[0]}") from None
                self._views[ref.csv] = view
            return self._views[ref.csv], "csv"
        return None

    def columns_of(self, source: str) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]

    def sample(self, ref: TableRef, rows: int = DEFAULT_SAMPLE) -> TableSample:
        """A bounded sample of the table; names only (from the manifest) when nothing holds its data.

        Two reservoir samples: `rows` rows for the counts (rows, non-null
        values, and distinct values of the columns named like keys), and at
        most VALUE_ROWS of them fetched for the validators, which see a
        bounded number of distinct values per column anyway.
        """
        found = self._source(ref)
        if found is None:
            return TableSample(ref, [ColumnSample(name, ref.column_types.get(name, "")) for name in ref.declared],
                               0, "names")
        source, origin = found
        rows = max(1, int(rows))
        try:
            cursor = self.con.execute(
                f"SELECT * FROM {source} USING SAMPLE reservoir({min(rows, VALUE_ROWS)} ROWS) REPEATABLE (42)")
            columns = [(d[0], str(d[1])) for d in cursor.description]
            result = cursor.fetchall()
            counts = self._counts(source, columns, rows) if len(result) >= min(rows, VALUE_ROWS) else None
        except duckdb.Error as exc:
            raise translate_error(exc, ref.label) from None
        samples = []
        pinned = {k.lower() for k in ref.column_types}
        by_column = list(zip(*result)) if result else [() for _ in columns]
        for index, ((name, type_name), column) in enumerate(zip(columns, by_column)):
            values = [x for x in column if x is not None]
            distinct = list(dict.fromkeys(values))
            if origin == "csv":
                type_name = _seed_type(type_name, name.lower() in pinned)
            if counts is None:                    # the small sample is the whole table
                non_null, n_distinct = len(values), len(distinct)
            else:
                non_null, n_distinct = counts[1 + 2 * index], counts[2 + 2 * index]
            samples.append(ColumnSample(name, type_name, distinct[:MAX_SCAN], non_null, n_distinct))
        return TableSample(ref, samples, len(result) if counts is None else counts[0], origin)

    def _counts(self, source: str, columns: list[tuple[str, str]], rows: int) -> tuple:
        """(rows, then per column: non-null and distinct values, None for a column not named like a key)
        over a `rows`-row sample of the key-like columns."""
        keys = [name for name, _ in columns if _key_like(name)]
        parts = [f"count({quote(k)}), count(DISTINCT {quote(k)})" for k in keys]
        projection = ", ".join(quote(k) for k in keys) or "1 AS one"
        found = iter(self.con.execute(
            f"SELECT {', '.join(['count(*)', *parts])} FROM (SELECT {projection} FROM {source} "
            f"USING SAMPLE reservoir({rows} ROWS) REPEATABLE (42)) AS s").fetchone())
        total = next(found)
        counts: list = [total]
        for name, _ in columns:
            counts += [next(found), next(found)] if _key_like(name) else [None, None]
        return tuple(counts)

    def inclusion(self, child: TableRef, column: str, parent: TableRef, key: str) -> float | None:
        """Share of the child column's sampled distinct values found among the parent's key values (None: unknown)."""
        child_source, parent_source = self._source(child), self._source(parent)
        if child_source is None or parent_source is None:
            return None
        try:
            total, inside = self.con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE v IN (SELECT {quote(key)} FROM {parent_source[0]})) "
                f"FROM (SELECT DISTINCT {quote(column)} AS v FROM (SELECT * FROM {child_source[0]} USING SAMPLE "
                f"reservoir({DEFAULT_SAMPLE} ROWS) REPEATABLE (42)) AS s WHERE {quote(column)} IS NOT NULL)"
            ).fetchone()
        except duckdb.Error:
            return None
        return inside / total if total else None
