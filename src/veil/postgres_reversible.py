"""The reversible strategies on PostgreSQL: `fpe`, `tokenize` and `encrypt` as keyed server functions.

On DuckDB they are Python functions of the dbt process (`veil.duckdb_udfs`);
on PostgreSQL the model runs in the server, so the server holds their keys,
the way `veil.postgres_keys` holds the HMAC key: rows of
`veil_private.keys` that arrive by COPY (never statement text), read *by
name* inside `SECURITY DEFINER` functions owned by `veil_keys`, with
`search_path` pinned and EXECUTE granted only to the roles that build models:

- `veil.veil_mask_fpe(value text, keep_last int, luhn text) -> text`: FF1 under
  the keyring's primary `fpe` key, byte-identical to DuckDB's `veil_mask_fpe`
  (the PL/pgSQL is in `veil.postgres_plpgsql`);
- `veil.veil_mask_tokenize(value text, keep_last int, luhn text, subject text) -> text`:
  the value's token from the vault `veil_private.vault_tokens`, a new random
  one (DuckDB's format) for a new value; the original sealed in the envelope
  below under the primary `vault` key; `subject` (NULL: none) recorded as an
  owner in `veil_private.vault_owners`, by its keyed digest, as DuckDB's vault does;
- `veil.veil_mask_encrypt(value text, context text) -> text`: `veil1cbc:...`,
  AES-256-CBC then HMAC-SHA256 under subkeys of the primary `encrypt` key
  (`veil.crypto.envelope`: pgcrypto has no AES-GCM); `veil reveal` opens it;
- `veil.vault_entry(token text)` -> (fingerprint, sealed): what `veil reveal`
  reads (`veil.postgres_vault`); sealed and keyed, so it shows no original;
- `veil.vault_forget_subjects(subjects text[])` -> (subject, removed): erasure
  of the subjects' ownership and of the tokens nobody else owns; with
  `vault_count_owned`, `vault_held(fingerprints, only_ownerless)` and
  `vault_forget(fingerprints, only_ownerless)`, what `veil erase` does to the
  DuckDB vault (`veil.vault.Vault`), by owner digest or keyed fingerprint only.

The rows (all 32 bytes, derived in Python, so no SQL derives a key):
`fpe`; `encrypt_enc`, `encrypt_mac`; `vault_fingerprint`, `vault_owner`
(from the first `vault` version, as DuckDB's vault derives them, so they
survive rotation); `vault_enc`, `vault_mac`. The key ids the envelopes name
(`encrypt:v2`) are the one thing written into a function body: an id, not a key.

A model calls them as `veil.VEIL_MASK_FPE(...)`: the generated model writes
the DuckDB call inside the `veil_reversible` macro, whose `postgres__` body
prefixes the schema (`veil.compile.render_macros`).

Run `install_reversible` after `veil.postgres_keys.install_keys` (which
creates the role, the schemas and the key table, and replaces every row of
it): `veil keys install` does both. The vault tables are kept across
installs: a re-install re-keys new seals, old ones name their key id.
Tokens are written inside the building transaction; a transaction that
writes to the vault first takes an advisory lock, so two models tokenizing
at once wait for each other instead of deadlocking.

>>> sorted(FUNCTIONS)  # doctest: +NORMALIZE_WHITESPACE
['veil.vault_count_owned', 'veil.vault_entry', 'veil.vault_forget', 'veil.vault_forget_subjects', 'veil.vault_held',
 'veil.veil_mask_encrypt', 'veil.veil_mask_fpe', 'veil.veil_mask_tokenize']
>>> sorted(key_rows(__import__("veil.keyring", fromlist=["x"]).keyring_from_key(bytes(32))))
['encrypt_enc', 'encrypt_mac', 'fpe', 'vault_enc', 'vault_fingerprint', 'vault_mac', 'vault_owner']
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from veil.crypto.envelope import subkeys
from veil.errors import UsageError
from veil.keyring import parse_key_id
from veil.postgres_keys import (
    FUNCTION_SCHEMA,
    KEYS_ROLE,
    KEYS_TABLE,
    PRIVATE_SCHEMA,
    copy_rows,
    one_transaction,
)
from veil.postgres_plpgsql import HELPERS, render
from veil.vault import fingerprint_key, owner_key

VAULT_TOKENS, VAULT_OWNERS = f"{PRIVATE_SCHEMA}.vault_tokens", f"{PRIVATE_SCHEMA}.vault_owners"
VAULT_LOCK = 0x7665696C   # pg_advisory_xact_lock key of vault writers ("veil")
MISSING = "veil: the reversible strategies' keys are not installed on this database (veil keys install)"
MAX_DRAWS = 1000   # as veil.vault.MAX_DRAWS

_VAULT_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS {VAULT_TOKENS} (
  fingerprint text PRIMARY KEY,
  token text NOT NULL UNIQUE,
  sealed text NOT NULL,
  key_id text NOT NULL,
  created_at timestamp NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {VAULT_OWNERS} (
  fingerprint text NOT NULL,
  owner text NOT NULL,
  PRIMARY KEY (fingerprint, owner))""",
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _key(variable: str, row: str) -> str:
    """PL/pgSQL that reads one key row into `variable`, or stops with MISSING."""
    return (f"  SELECT material INTO {variable} FROM {KEYS_TABLE} WHERE name = '{row}';\n"
            f"  IF {variable} IS NULL THEN RAISE EXCEPTION {_literal(MISSING)}; END IF;\n")


def _definer(signature: str, returns: str, attributes: str, declare: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {FUNCTION_SCHEMA}.{signature} RETURNS {returns}
LANGUAGE plpgsql {attributes} SECURITY DEFINER
SET search_path = pg_catalog, {PRIVATE_SCHEMA}
AS $veil$
DECLARE
{declare}BEGIN
{body}END
$veil$"""


def _functions(encrypt_id: str, vault_id: str, pgcrypto: str) -> dict[str, tuple[str, str]]:
    """name -> (argument types, CREATE statement) of the SECURITY DEFINER functions."""
    hmac = f'"{pgcrypto}".hmac'
    fpe = _definer("veil_mask_fpe(value text, keep_last integer, luhn text)", "text",
                   "STABLE STRICT PARALLEL SAFE", "  k bytea;\n",
                   _key("k", "fpe") + f"  RETURN {PRIVATE_SCHEMA}.fpe_encrypt(k, value, keep_last, luhn);\n")
    encrypt = _definer(
        "veil_mask_encrypt(value text, context text)", "text", "VOLATILE STRICT PARALLEL SAFE",
        "  enc bytea;\n  mac bytea;\n",
        _key("enc", "encrypt_enc") + _key("mac", "encrypt_mac")
        + f"  RETURN {PRIVATE_SCHEMA}.seal(enc, mac, {_literal(encrypt_id)}, value, context);\n")
    tokenize = _definer(
        "veil_mask_tokenize(value text, keep_last integer, luhn text, subject text)", "text",
        "VOLATILE PARALLEL UNSAFE",
        "  fk bytea;\n  ok bytea;\n  enc bytea;\n  mac bytea;\n  fp text;\n  tok text;\n  found_token text;\n",
        f"""  IF value IS NULL OR keep_last IS NULL OR luhn IS NULL OR value = '' THEN RETURN NULL; END IF;
  IF luhn NOT IN ('any', 'valid', 'invalid') THEN
    RAISE EXCEPTION 'veil: luhn must be one of any, valid, invalid; got %', luhn;
  END IF;
  IF keep_last < 0 THEN RAISE EXCEPTION 'veil: keep_last must be 0 or more; got %', keep_last; END IF;
{_key("fk", "vault_fingerprint")}  fp := encode({hmac}(convert_to(keep_last::text || '|' || luhn || '|' || value, 'UTF8'), fk, 'sha256'), 'hex');
  SELECT token INTO tok FROM {VAULT_TOKENS} WHERE fingerprint = fp;
  IF tok IS NULL THEN
{_key("enc", "vault_enc")}{_key("mac", "vault_mac")}    PERFORM pg_advisory_xact_lock({VAULT_LOCK});
    FOR attempt IN 1..{MAX_DRAWS} LOOP
      tok := {PRIVATE_SCHEMA}.random_token(value, keep_last, luhn);
      IF tok IS NULL THEN RETURN NULL; END IF;     -- nothing to replace: no token, no entry
      CONTINUE WHEN tok = value;
      INSERT INTO {VAULT_TOKENS} (fingerprint, token, sealed, key_id, created_at)
        VALUES (fp, tok, {PRIVATE_SCHEMA}.seal(enc, mac, {_literal(vault_id)}, value, 'vault:' || fp),
                {_literal(vault_id)}, now() AT TIME ZONE 'UTC')
        ON CONFLICT DO NOTHING;
      EXIT WHEN FOUND;
      SELECT token INTO found_token FROM {VAULT_TOKENS} WHERE fingerprint = fp;
      IF found_token IS NOT NULL THEN tok := found_token; EXIT; END IF;
      tok := NULL;                                 -- the token was taken: draw again
    END LOOP;
    IF tok IS NULL THEN RETURN NULL; END IF;
  END IF;
  IF subject IS NOT NULL THEN
{_key("ok", "vault_owner")}    PERFORM pg_advisory_xact_lock({VAULT_LOCK});
    INSERT INTO {VAULT_OWNERS} (fingerprint, owner)
      VALUES (fp, encode({hmac}(convert_to(subject, 'UTF8'), ok, 'sha256'), 'hex'))
      ON CONFLICT DO NOTHING;
  END IF;
  RETURN tok;
""")
    entry = f"""
CREATE OR REPLACE FUNCTION {FUNCTION_SCHEMA}.vault_entry(token text) RETURNS TABLE (fingerprint text, sealed text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, {PRIVATE_SCHEMA}
AS $veil$ SELECT t.fingerprint, t.sealed FROM {VAULT_TOKENS} AS t WHERE t.token = vault_entry.token $veil$"""
    forget = _definer(
        "vault_forget_subjects(subjects text[])", "TABLE (subject text, removed bigint)", "VOLATILE STRICT",
        "  ok bytea;\n",
        _key("ok", "vault_owner") + f"""  PERFORM pg_advisory_xact_lock({VAULT_LOCK});
  RETURN QUERY
  WITH wanted AS (
    SELECT DISTINCT s AS subject, encode({hmac}(convert_to(s, 'UTF8'), ok, 'sha256'), 'hex') AS owner
    FROM unnest(subjects) AS s WHERE s IS NOT NULL
  ), gone AS (
    DELETE FROM {VAULT_OWNERS} AS o USING wanted AS w WHERE o.owner = w.owner RETURNING o.fingerprint, w.subject
  ), orphaned AS (
    DELETE FROM {VAULT_TOKENS} AS t
    WHERE t.fingerprint IN (SELECT g.fingerprint FROM gone AS g)
      AND NOT EXISTS (SELECT 1 FROM {VAULT_OWNERS} AS o
                      WHERE o.fingerprint = t.fingerprint AND o.owner NOT IN (SELECT w.owner FROM wanted AS w))
    RETURNING t.fingerprint
  )
  SELECT g.subject, count(*) FROM gone AS g GROUP BY g.subject ORDER BY g.subject;
""")
    ownerless = (f"(NOT only_ownerless OR NOT EXISTS (SELECT 1 FROM {VAULT_OWNERS} AS o "
                 "WHERE o.fingerprint = t.fingerprint))")
    count_owned = _definer(
        "vault_count_owned(subjects text[])", "TABLE (subject text, tokens bigint)", "STABLE STRICT",
        "  ok bytea;\n",
        _key("ok", "vault_owner") + f"""  RETURN QUERY
  WITH wanted AS (
    SELECT DISTINCT s AS subject, encode({hmac}(convert_to(s, 'UTF8'), ok, 'sha256'), 'hex') AS owner
    FROM unnest(subjects) AS s WHERE s IS NOT NULL
  )
  SELECT w.subject, count(*) FROM wanted AS w
  JOIN {VAULT_OWNERS} AS o ON o.owner = w.owner JOIN {VAULT_TOKENS} AS t ON t.fingerprint = o.fingerprint
  GROUP BY w.subject ORDER BY w.subject;
""")
    held = f"""
CREATE OR REPLACE FUNCTION {FUNCTION_SCHEMA}.vault_held(fingerprints text[], only_ownerless boolean)
RETURNS SETOF text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, {PRIVATE_SCHEMA}
AS $veil$ SELECT t.fingerprint FROM {VAULT_TOKENS} AS t
WHERE t.fingerprint = ANY(vault_held.fingerprints) AND {ownerless.replace("only_ownerless", "vault_held.only_ownerless")} $veil$"""
    forget_entries = _definer(
        "vault_forget(fingerprints text[], only_ownerless boolean)", "bigint", "VOLATILE STRICT",
        "  gone bigint;\n",
        f"""  PERFORM pg_advisory_xact_lock({VAULT_LOCK});
  DELETE FROM {VAULT_TOKENS} AS t WHERE t.fingerprint = ANY(fingerprints) AND {ownerless};
  GET DIAGNOSTICS gone = ROW_COUNT;
  IF NOT only_ownerless THEN
    DELETE FROM {VAULT_OWNERS} AS o WHERE o.fingerprint = ANY(fingerprints);
  END IF;
  RETURN gone;
""")
    return {
        f"{FUNCTION_SCHEMA}.veil_mask_fpe": ("text, integer, text", fpe),
        f"{FUNCTION_SCHEMA}.veil_mask_tokenize": ("text, integer, text, text", tokenize),
        f"{FUNCTION_SCHEMA}.veil_mask_encrypt": ("text, text", encrypt),
        f"{FUNCTION_SCHEMA}.vault_entry": ("text", entry),
        f"{FUNCTION_SCHEMA}.vault_forget_subjects": ("text[]", forget),
        f"{FUNCTION_SCHEMA}.vault_count_owned": ("text[]", count_owned),
        f"{FUNCTION_SCHEMA}.vault_held": ("text[], boolean", held),
        f"{FUNCTION_SCHEMA}.vault_forget": ("text[], boolean", forget_entries),
    }


FUNCTIONS = {name: arguments for name, (arguments, _) in _functions("encrypt:v1", "vault:v1", "public").items()}
"""The SECURITY DEFINER functions -> their argument types (what EXECUTE is granted on)."""


def key_rows(keyring) -> dict[str, bytes]:
    """The rows of `veil_private.keys` the reversible functions read, derived from `keyring`."""
    encrypt_enc, encrypt_mac = subkeys(keyring.primary("encrypt").material)
    vault_enc, vault_mac = subkeys(keyring.primary("vault").material)
    return {"fpe": keyring.primary("fpe").material, "encrypt_enc": encrypt_enc, "encrypt_mac": encrypt_mac,
            "vault_fingerprint": fingerprint_key(keyring), "vault_owner": owner_key(keyring),
            "vault_enc": vault_enc, "vault_mac": vault_mac}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def install_reversible(con, keyring, grant_to: Iterable[str] = ()) -> None:
    """Install (or re-key) the reversible strategies' keys and functions on `con`'s database (superuser).

    `install_keys` must have run (the role, schemas and key table). One
    transaction; commits on success, rolls back on failure; `con.autocommit` is restored.
    """
    rows = key_rows(keyring)
    encrypt_id, vault_id = keyring.primary("encrypt").key_id, keyring.primary("vault").key_id
    for key_id in (encrypt_id, vault_id):
        parse_key_id(key_id)   # NAME:vN only: it is written into a function body
    grantees = list(grant_to)
    with one_transaction(con), con.cursor() as cur:
        cur.execute("SELECT pg_catalog.current_setting('server_encoding'), "
                    "pg_catalog.to_regclass(%s) IS NOT NULL", [KEYS_TABLE])
        encoding, installed = cur.fetchone()
        if encoding != "UTF8":
            raise UsageError(f"veil's reversible strategies need a UTF8 database; this one is {encoding}")
        if not installed:
            raise UsageError(f"no {KEYS_TABLE} on this database: install the keys first (veil keys install)")
        cur.execute("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
                    "ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'")
        pgcrypto = cur.fetchone()[0]
        for statement in _VAULT_TABLES:
            cur.execute(statement)
        for table in (VAULT_TOKENS, VAULT_OWNERS):
            cur.execute(f"ALTER TABLE {table} OWNER TO {KEYS_ROLE}")
            cur.execute(f"REVOKE ALL ON TABLE {table} FROM PUBLIC")
        cur.execute(f"DELETE FROM {KEYS_TABLE} WHERE name = ANY(%s)", [sorted(rows)])
        cur.copy_expert(f"COPY {KEYS_TABLE} (name, material) FROM STDIN WITH (FORMAT csv)",
                        io.StringIO(copy_rows(rows)))
        for name, (arguments, statement) in HELPERS.items():
            cur.execute(render(statement, pgcrypto))
            cur.execute(f"ALTER FUNCTION {PRIVATE_SCHEMA}.{name}({arguments}) OWNER TO {KEYS_ROLE}")
            cur.execute(f"REVOKE ALL ON FUNCTION {PRIVATE_SCHEMA}.{name}({arguments}) FROM PUBLIC")
        for name, (arguments, statement) in _functions(encrypt_id, vault_id, pgcrypto).items():
            cur.execute(statement)
            cur.execute(f"ALTER FUNCTION {name}({arguments}) OWNER TO {KEYS_ROLE}")
            cur.execute(f"REVOKE ALL ON FUNCTION {name}({arguments}) FROM PUBLIC")
        _grant(cur, grantees)


def _grant(cur, roles: Iterable[str]) -> None:
    for role in roles:
        cur.execute(f"GRANT USAGE ON SCHEMA {FUNCTION_SCHEMA} TO {_ident(role)}")
        for name, arguments in FUNCTIONS.items():
            cur.execute(f"GRANT EXECUTE ON FUNCTION {name}({arguments}) TO {_ident(role)}")


def grant_execute(con, roles: Iterable[str]) -> None:
    """Let more roles build models with the reversible strategies (and read the vault for `veil reveal`)."""
    with con.cursor() as cur:
        _grant(cur, roles)
    if not con.autocommit:
        con.commit()
