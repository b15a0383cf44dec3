"""A synthetic company's raw data, generated inside DuckDB, the same every time.

Five tables land in one schema (``raw`` by default): ``users``, ``events``,
``payments``, ``consent_events`` and ``deletion_requests``. Every value is a
function of the row number, the seed and ``as_of`` (see
:mod:`veil.demo.statements`), so the same arguments give the same contents on
any machine and thread count running the same DuckDB version.

From the shell::

    python -m veil.demo.synthetic --db demo.duckdb --users 2000 --events 100000 --as-of 2025-06-30
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import sys
from collections.abc import Sequence

import duckdb
from sqlglot import exp

from veil.demo import vocabulary
from veil.demo.statements import STATEMENTS
from veil.errors import UsageError

#: How far back every timestamp may go from ``as_of``.
HISTORY_YEARS = 3
#: Ages of users at ``as_of``, inclusive.
YOUNGEST_AGE = 18
OLDEST_AGE = 90
#: Share of users who asked to be erased.
ERASURE_SHARE = 0.01

_EPOCH = datetime.date(1970, 1, 1)
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def generate(
    con: duckdb.DuckDBPyConnection,
    *,
    users: int = 2000,
    events: int = 100_000,
    payments: int | None = None,
    as_of: datetime.date | None = None,
    seed: int = 42,
    schema: str = "raw",
) -> dict[str, int]:
    """(Re)create the five raw tables in ``schema`` and return their row counts.

    ``payments`` defaults to two per user and ``as_of`` to today; every
    timestamp falls in the three years before ``as_of`` (midnight, exclusive).
    ``consent_events`` holds about four decisions per user and
    ``deletion_requests`` about 1% of users, so their sizes follow ``users``.

    >>> con = duckdb.connect()
    >>> generate(con, users=100, events=1000, as_of=datetime.date(2025, 6, 30))
    {'users': 100, 'events': 1000, 'payments': 200, 'consent_events': 408, 'deletion_requests': 1}
    >>> con.sql("SELECT bool_and(event_ts < DATE '2025-06-30') FROM raw.events").fetchall()
    [(True,)]
    """
    payments = 2 * users if payments is None else payments
    as_of = datetime.date.today() if as_of is None else as_of
    _check_sizes(users=users, events=events, payments=payments)

    values = _parameters(users=users, events=events, payments=payments, as_of=as_of, seed=seed)
    quoted_schema = exp.to_identifier(schema, quoted=True).sql(dialect="duckdb")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted_schema}")
    counts: dict[str, int] = {}
    for table, statement in STATEMENTS:
        sql = statement.format(schema=quoted_schema)
        con.execute(sql, {name: values[name] for name in sorted(set(_PARAMETER.findall(sql)))})
        ((counts[table],),) = con.execute(f"SELECT count(*) FROM {quoted_schema}.{table}").fetchall()
    return counts


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The same calendar day ``years`` earlier; 29 February becomes the 28th.

    >>> years_before(datetime.date(2024, 2, 29), 3)
    datetime.date(2021, 2, 28)
    """
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _check_sizes(**sizes: int) -> None:
    if sizes["users"] < 1:
        raise UsageError(f"users must be at least 1, got {sizes['users']}")
    for name, size in sizes.items():
        if size < 0:
            raise UsageError(f"{name} must not be negative, got {size}")


def _coprime_stride(modulus: int) -> int:
    """A stride near the golden section of ``modulus``, coprime with it.

    ``rank * stride % modulus`` then visits every user once, and neighbouring
    activity ranks land far apart.

    >>> _coprime_stride(2000)
    1237
    """
    stride = max(1, round(modulus * 0.6180339887))
    while math.gcd(stride, modulus) != 1:
        stride += 1
    return stride


def _parameters(*, users: int, events: int, payments: int, as_of: datetime.date, seed: int) -> dict[str, object]:
    """Every named parameter any statement may use."""
    start = years_before(as_of, HISTORY_YEARS)
    birth_latest = years_before(as_of, YOUNGEST_AGE)
    birth_earliest = years_before(as_of, OLDEST_AGE + 1) + datetime.timedelta(days=1)
    return {
        "seed": seed,
        "users": users,
        "events": events,
        "payments": payments,
        "erasures": max(1, round(users * ERASURE_SHARE)),
        "user_stride": _coprime_stride(users),
        "user_offset": seed % users,
        "start_s": (start - _EPOCH).days * 86_400,
        "span_s": (as_of - start).days * 86_400,
        "birth_latest": birth_latest,
        "birth_days": (birth_latest - birth_earliest).days + 1,
        "first_names": list(vocabulary.FIRST_NAMES),
        "last_names": list(vocabulary.LAST_NAMES),
        "email_domains": vocabulary.expand(vocabulary.EMAIL_DOMAINS),
        "genders": vocabulary.expand(vocabulary.GENDERS),
        "countries": vocabulary.expand([(code, weight) for code, weight, _ in vocabulary.COUNTRIES]),
        "country_codes": [code for code, _, _ in vocabulary.COUNTRIES],
        "currencies": [currency for _, _, currency in vocabulary.COUNTRIES],
        "restricted_zip3": list(vocabulary.RESTRICTED_ZIP3),
        "ipv6_prefixes": list(vocabulary.IPV6_PREFIXES),
        "event_types": vocabulary.expand(vocabulary.EVENT_TYPES),
        "purposes": [purpose for purpose, _ in vocabulary.CONSENT_PURPOSES],
        "grant_percent": [percent for _, percent in vocabulary.CONSENT_PURPOSES],
        "decision_counts": vocabulary.expand(vocabulary.CONSENT_DECISIONS_PER_PURPOSE),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the raw tables into a DuckDB file and print their row counts.

    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "demo.duckdb"
    >>> main(["--db", str(db), "--users", "10", "--events", "50", "--as-of", "2025-06-30"])
    users                       10
    events                      50
    payments                    20
    consent_events              34
    deletion_requests            1
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m veil.demo.synthetic",
        description="Generate the reference project's raw tables, deterministically, into a DuckDB file.",
        epilog="example: python -m veil.demo.synthetic --db dev.duckdb --users 100000 --events 5000000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", required=True, help="DuckDB database file (created if missing)")
    parser.add_argument("--users", type=int, default=2000, help="number of users (default: 2000)")
    parser.add_argument("--events", type=int, default=100_000, help="number of events (default: 100000)")
    parser.add_argument("--payments", type=int, default=None, help="number of payments (default: 2 per user)")
    parser.add_argument(
        "--as-of",
        type=datetime.date.fromisoformat,
        default=None,
        help="YYYY-MM-DD; timestamps fall in the 3 years before it (default: today)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed (default: 42)")
    parser.add_argument("--schema", default="raw", help="schema to (re)create the tables in (default: raw)")
    args = parser.parse_args(argv)

    try:
        with duckdb.connect(args.db) as con:
            counts = generate(
                con,
                users=args.users,
                events=args.events,
                payments=args.payments,
                as_of=args.as_of,
                seed=args.seed,
                schema=args.schema,
            )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for table, count in counts.items():
        print(f"{table:<20}{count:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
