"""`veil keys install`: put the project's keys into its PostgreSQL database (`veil.postgres_keys`).

The connection is the dbt profile target's (the settings `PostgresWarehouse`
uses), so the same profiles.yml drives dbt and veil; the target's user must
be a superuser (installing creates the `veil_keys` role, changes owners and
revokes from PUBLIC). The roles granted EXECUTE are `--grant ROLE...`, else
the target's own user (the one `dbt build` runs as).

The keys never appear in a statement: `install_keyring` (the HMAC key) and
`install_reversible` (the keys of `fpe`, `tokenize` and `encrypt`, and the
token vault) send them as COPY data. Every failure is one message and exit 2:

>>> class P:
...     target = {"type": "duckdb", "path": "w.duckdb"}
...     database_override = None
>>> install_project_keys(P(), ())
Traceback (most recent call last):
...
veil.errors.UsageError: veil keys install needs a postgres target; the dbt target is 'duckdb' (DuckDB registers the keys in each dbt session: VEIL_KEY / VEIL_KEYRING)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from veil.errors import UsageError
from veil.warehouse import target_type


@dataclass(frozen=True)
class Installed:
    location: str            # host:port/dbname
    user: str                # who installed
    grantees: tuple[str, ...]


def install_project_keys(project, grant_to: Iterable[str]) -> Installed:
    """Install the project's keyring (VEIL_KEYRING / VEIL_KEY / VEIL_KEY_FILE) into its PostgreSQL target."""
    kind = target_type(project)
    if kind != "postgres":
        raise UsageError(f"veil keys install needs a postgres target; the dbt target is {kind!r} "
                         "(DuckDB registers the keys in each dbt session: VEIL_KEY / VEIL_KEYRING)")
    keyring = project.keyring()
    if keyring is None:
        raise UsageError("no keys: set VEIL_KEYRING (see `veil keys init`) or VEIL_KEY")

    import psycopg2

    from veil.postgres_keys import install_keyring
    from veil.postgres_reversible import install_reversible
    from veil.warehouse.postgres import connect_kwargs, translate_error

    kwargs = connect_kwargs(project.target)
    location = f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
    grantees = tuple(dict.fromkeys(grant_to)) or (kwargs["user"],)
    try:
        con = psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        raise UsageError(f"cannot connect to PostgreSQL at {location}: "
                         f"{(str(exc).strip().splitlines() or ['?'])[0]}") from None
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
            user, superuser = cur.fetchone()
            if not superuser:
                raise UsageError(f"veil keys install needs a superuser; {user} on {location} is not one "
                                 "(use a profile target whose user is a superuser)")
            cur.execute("SELECT r FROM unnest(%s::text[]) AS r WHERE r NOT IN "
                        "(SELECT rolname FROM pg_catalog.pg_roles)", [list(grantees)])
            missing = [row[0] for row in cur.fetchall()]
            if missing:
                raise UsageError(f"no such role on {location}: {', '.join(missing)} (create it first)")
        install_keyring(con, keyring, grant_to=grantees)
        install_reversible(con, keyring, grant_to=grantees)
    except psycopg2.Error as exc:
        raise UsageError(str(translate_error(exc, location))) from None
    finally:
        con.close()
    return Installed(location, user, grantees)
