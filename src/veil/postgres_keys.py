"""veil's keyed SQL functions on PostgreSQL, with the key out of every SQL text.

DuckDB keeps the key in the Python process (`veil.hmac_sql`); a PostgreSQL
model runs inside the server, so the server has to hold the key. It holds it
in one table nobody but its owner reads, behind functions that only *use* it:

- role `veil_keys` (NOLOGIN) owns schema `veil_private` and the table
  `veil_private.keys(name text primary key, material bytea)`, with every
  privilege on both revoked from PUBLIC;
- the rows arrive with `COPY veil_private.keys FROM STDIN`: COPY data is
  not statement text, so it is not in `log_statement=all`'s log,
  `pg_stat_activity` or `pg_stat_statements` (a bound parameter *would* be
  logged, which is why this module never binds a key);
- the rows are `hmac` (the keyring's primary `hmac` key) and
  `subject_digest` (`subject_digest_key(hmac)`, derived here in Python, so
  no SQL ever derives a key and no HMAC pad is ever computed outside pgcrypto);
- `veil.hmac_sha256(text) -> text`, `veil.hmac_sha256_blob(bytea) -> text`
  and `veil.subject_digest(text) -> text` are `SECURITY DEFINER` functions
  owned by `veil_keys` with `search_path = pg_catalog, veil_private` pinned;
  their bodies read the key by *name*, so `pg_proc.prosrc` holds no key.
  EXECUTE is revoked from PUBLIC and granted to the roles that build models.

Outputs are byte-identical to DuckDB's `veil_hmac_sha256`,
`veil_hmac_sha256_blob` and `veil_subject_digest` for the same key and text
(hex HMAC-SHA256 of the UTF-8 bytes). DuckDB's functions take any type as
its VARCHAR text; these take `text`, so a model casts first (`x::text`):
integers and strings give the same text on both engines, floats, timestamps
and other types may not.

Who can read the key: superusers; `veil_keys` and every role that can
become it (its members, and, on PostgreSQL 15, a CREATEROLE role, which can
grant itself membership); members of `pg_read_all_data`. Anyone with a copy
of the data directory, its WAL or a `pg_dump` of `veil_private` holds it too.
An analyst role with EXECUTE can compute pseudonyms of values it chooses
(that is what the function is for, and why `veil lint` flags other callers)
but cannot SELECT the table, see the key in any catalog, log or statistics
view, or change the functions. A role without EXECUTE gets
"permission denied for function".

Installing needs a superuser (it creates a role, revokes from PUBLIC and
changes owners). It is idempotent and a re-install replaces the keys (key
rotation), in one transaction.

>>> FUNCTIONS["veil_hmac_sha256"], FUNCTIONS["veil_subject_digest"]
('veil.hmac_sha256', 'veil.subject_digest')
>>> copy_rows({"hmac": b"\\x01\\xff"})
'hmac,\\\\x01ff\\n'
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Mapping

from veil.hmac_sql import (
    DIGEST_FUNCTION,
    HMAC_BLOB_FUNCTION,
    HMAC_FUNCTION,
    subject_digest_key,
)

KEYS_ROLE = "veil_keys"
PRIVATE_SCHEMA = "veil_private"
FUNCTION_SCHEMA = "veil"
KEYS_TABLE = f"{PRIVATE_SCHEMA}.keys"
HMAC_KEY, DIGEST_KEY = "hmac", "subject_digest"
MISSING_KEY_MESSAGE = "veil: no key is installed on this database (veil.postgres_keys.install_keys)"

# (DuckDB name, PostgreSQL name, argument type, key row, how the argument becomes bytes)
_SIGNATURES = (
    (HMAC_FUNCTION, f"{FUNCTION_SCHEMA}.hmac_sha256", "text", HMAC_KEY, "convert_to(x, 'UTF8')"),
    (HMAC_BLOB_FUNCTION, f"{FUNCTION_SCHEMA}.hmac_sha256_blob", "bytea", HMAC_KEY, "x"),
    (DIGEST_FUNCTION, f"{FUNCTION_SCHEMA}.subject_digest", "text", DIGEST_KEY, "convert_to(x, 'UTF8')"),
)
FUNCTIONS = {duck: pg for duck, pg, *_ in _SIGNATURES}
"""DuckDB function name -> its PostgreSQL function."""


def _ident(name: str) -> str:
    """A role or schema name, double-quoted (veil's own names are plain; a grantee may not be)."""
    return '"' + name.replace('"', '""') + '"'


def copy_rows(keys: Mapping[str, bytes]) -> str:
    """The CSV body of the COPY: `name,\\x<hex>` per key (bytea's hex input form)."""
    return "".join(f"{name},\\x{material.hex()}\n" for name, material in keys.items())


def _function_sql(name: str, argument: str, key_row: str, message: str, hmac_schema: str) -> str:
    """CREATE OR REPLACE of one keyed function: no key in the body, only the key row's name."""
    missing = MISSING_KEY_MESSAGE.replace("'", "''")
    return f"""
CREATE OR REPLACE FUNCTION {name}(x {argument}) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, {PRIVATE_SCHEMA}
AS $veil$
DECLARE
  k bytea;
BEGIN
  SELECT material INTO k FROM {KEYS_TABLE} WHERE name = '{key_row}';
  IF k IS NULL THEN
    RAISE EXCEPTION '{missing}';
  END IF;
  RETURN encode({_ident(hmac_schema)}.hmac({message}, k, 'sha256'), 'hex');
END
$veil$"""


def _pgcrypto_schema(cur) -> str:
    cur.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    cur.execute("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'")
    return cur.fetchone()[0]


@contextlib.contextmanager
def one_transaction(con) -> Iterator[None]:
    """A transaction on psycopg2 connection `con`: commit on success, roll back on failure, `autocommit` restored."""
    autocommit = con.autocommit
    con.autocommit = False
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.autocommit = autocommit


def install_keys(con, key: bytes, grant_to: Iterable[str] = ()) -> None:
    """Install (or re-key) veil's keyed functions on the database of `con` (a psycopg2 connection, superuser).

    `key` is the pseudonym key (`keyring.primary("hmac").material`); `grant_to`
    the roles that build models (they get USAGE on schema `veil` and EXECUTE).
    Commits on success, rolls back on failure; `con.autocommit` is restored.
    """
    keys = {HMAC_KEY: bytes(key), DIGEST_KEY: subject_digest_key(bytes(key))}
    grantees = list(grant_to)
    with one_transaction(con), con.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [KEYS_ROLE])
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {KEYS_ROLE} NOLOGIN")
        hmac_schema = _pgcrypto_schema(cur)
        for schema in (PRIVATE_SCHEMA, FUNCTION_SCHEMA):
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {KEYS_ROLE}")
            cur.execute(f"ALTER SCHEMA {schema} OWNER TO {KEYS_ROLE}")
            cur.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (name text PRIMARY KEY, material bytea NOT NULL)")
        cur.execute(f"ALTER TABLE {KEYS_TABLE} OWNER TO {KEYS_ROLE}")
        cur.execute(f"REVOKE ALL ON TABLE {KEYS_TABLE} FROM PUBLIC")
        cur.execute(f"DELETE FROM {KEYS_TABLE}")
        cur.copy_expert(f"COPY {KEYS_TABLE} (name, material) FROM STDIN WITH (FORMAT csv)",
                        io.StringIO(copy_rows(keys)))
        for _duck, name, argument, key_row, message in _SIGNATURES:
            cur.execute(_function_sql(name, argument, key_row, message, hmac_schema))
            cur.execute(f"ALTER FUNCTION {name}({argument}) OWNER TO {KEYS_ROLE}")
            cur.execute(f"REVOKE ALL ON FUNCTION {name}({argument}) FROM PUBLIC")
            for role in grantees:
                cur.execute(f"GRANT EXECUTE ON FUNCTION {name}({argument}) TO {_ident(role)}")
        for role in grantees:
            cur.execute(f"GRANT USAGE ON SCHEMA {FUNCTION_SCHEMA} TO {_ident(role)}")


def install_keyring(con, keyring, grant_to: Iterable[str] = ()) -> None:
    """`install_keys` with the keyring's primary `hmac` key (as DuckDB registers it)."""
    install_keys(con, keyring.primary("hmac").material, grant_to)


def grant_execute(con, roles: Iterable[str]) -> None:
    """Let more roles build models: USAGE on schema `veil` and EXECUTE on its keyed functions."""
    with con.cursor() as cur:
        for role in roles:
            cur.execute(f"GRANT USAGE ON SCHEMA {FUNCTION_SCHEMA} TO {_ident(role)}")
            for _duck, name, argument, *_ in _SIGNATURES:
                cur.execute(f"GRANT EXECUTE ON FUNCTION {name}({argument}) TO {_ident(role)}")
    if not con.autocommit:
        con.commit()
