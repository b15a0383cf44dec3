"""VL903 veil-internals."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from veil.lint.lineage import node_offset
from veil.lint.rules.base import RawFinding, Statement, rule
from veil.lint.written import defined_function

INTERNAL_RELATIONS = {"veil_hmac_key", "veil_pending", "veil_audit_batch"}
INTERNAL_FUNCTIONS = ("veil_hmac_sha256", "veil_subject_digest")   # the keyed HMACs (_text, _blob too)


@rule("VL903", "veil-internals")
def check(statement: Statement) -> Iterator[RawFinding]:
    """A query defines or redefines a `veil_*` function or macro, or reads veil's internals.

    veil's masking functions are trusted by VL002 because veil defines them; a
    file that redefines `veil_mask_domain_only` as the identity would make any
    column pass. The keyed HMAC (`veil_hmac_sha256`) and the plugin's temp
    relations exist for veil's own models: called from a query, the HMAC turns
    every pseudonym into a dictionary lookup (`veil_hmac_sha256('alice@...')`).

    Anti-pattern:

        create or replace temp macro veil_mask_domain_only(x) as x

    Best practice:

        select veil_mask_domain_only(email) from raw.users   -- veil's own mask, as the policy says
    """
    tree = statement.original
    defined = defined_function(tree)
    if defined and defined.lower().startswith("veil_"):
        yield RawFinding(node_offset(tree.this) if isinstance(tree.this, exp.Expression) else None,
                         f"defines {defined}: veil's functions are veil's own (VL002 trusts them)")
    for table in statement.index.nodes(exp.Table):
        if table.name.lower() in INTERNAL_RELATIONS or table.name.lower().startswith("veil_hmac"):
            yield RawFinding(node_offset(table), f"reads {table.name}, an internal relation of veil's plugin")
    for call in statement.index.nodes(exp.Anonymous):
        if str(call.this).lower().startswith(INTERNAL_FUNCTIONS):
            yield RawFinding(node_offset(call) or node_offset(call.expressions[0] if call.expressions else None),
                             f"calls {call.this}, veil's keyed HMAC: any pseudonym could be reversed by a "
                             "dictionary; use the veil_mask_* the policy declares")
