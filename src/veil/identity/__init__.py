"""Who a stored row belongs to: declared subjects, `via` relationships and column lineage.

Never a column name: a table's subject column is the one a policy declares,
or one whose values column lineage proves to come unchanged from a declared
subject or key column. See `veil.identity.graph`.
"""

from veil.identity.graph import (
           SUBJECT,
           Domain,
           IdentityGraph,
           TableIdentity,
           build_identity_graph,
)
from veil.identity.subjects import SubjectKind, canonical_subject

__all__ = ["SUBJECT", "Domain", "IdentityGraph", "SubjectKind", "TableIdentity", "build_identity_graph",
           "canonical_subject"]
