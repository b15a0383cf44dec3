"""`veil keys reencrypt`: rewrite stored ciphertexts to the primary key versions.

Two kinds of stored ciphertext: the token vault's sealed originals, and the
`encrypt` columns of built audience models in the warehouse. Both are
rewritten only where their key id is not the primary one, so an interrupted
run resumes where it stopped: vault entries a committed batch at a time,
each warehouse column in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from duckdb.sqltypes import VARCHAR

from veil.compile.plan import Action, ProjectPlan
from veil.crypto.field import PREFIX, seal, unseal
from veil.relations import PhysicalRelations

RESEAL_FUNCTION = "veil_reseal"


@dataclass(frozen=True)
class Reencrypted:
    where: str      # "vault" or "<schema>.<model>.<column>"
    rows: int


def _register_reseal(con: duckdb.DuckDBPyConnection, keyring) -> None:
    key = keyring.primary("encrypt")

    def reseal(values: pa.Array, contexts: pa.Array) -> pa.Array:
        out = [seal(key, unseal(keyring.by_id, v, c), c) if v is not None else None
               for v, c in zip(values.to_pylist(), contexts.to_pylist())]
        return pa.array(out, type=pa.string())

    try:
        con.remove_function(RESEAL_FUNCTION)
    except Exception:  # noqa: BLE001 - not registered yet
        pass
    con.create_function(RESEAL_FUNCTION, reseal, [VARCHAR, VARCHAR], VARCHAR, type="arrow",
                        null_handling="special", side_effects=True)


def reencrypt_warehouse(plan: ProjectPlan, con: duckdb.DuckDBPyConnection, relations: PhysicalRelations,
                        keyring) -> list[Reencrypted]:
    """Re-seal every `encrypt` column of every built audience model still on an old key."""
    _register_reseal(con, keyring)
    current = f"{PREFIX}:{keyring.primary('encrypt').key_id}:"
    results = []
    for model in plan.models:
        for decision in model.kept:
            if decision.action is not Action.MASK or decision.strategy != "encrypt":
                continue
            target = relations.sql_name(f"ref('{model.name}')")
            column = f'"{decision.name}"'
            context = f"{model.table.name}.{decision.name}"
            try:
                changed = con.execute(
                    f"UPDATE {target} SET {column} = {RESEAL_FUNCTION}({column}, ?) "
                    f"WHERE {column} IS NOT NULL AND NOT starts_with({column}, ?)", [context, current]).fetchall()[0][0]
            except duckdb.CatalogException:
                continue   # the model is not built
            results.append(Reencrypted(f"{target}.{column}", changed))
    return results
