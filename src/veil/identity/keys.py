"""SQL (sqlglot trees) that finds pending subjects' rows through the identity graph.

The pending subjects are a relation `veil_pending(subject VARCHAR)` of
canonical ids that the caller registers on the connection. A domain's
*mapping* is a query of (veil_subject, veil_key) pairs: for `subject` the
ids themselves; for `orders.order_id` the order ids of the pending subjects'
orders, found through `orders`' own subject (recursively for multi-hop).

>>> from veil.identity.subjects import SubjectKind
>>> subject_match(exp.column("id"), "BIGINT", SubjectKind.INTEGER).sql("duckdb")
'id IN (SELECT TRY_CAST(subject AS BIGINT) FROM veil_pending)'
>>> subject_match(exp.column("id"), "VARCHAR", SubjectKind.INTEGER).sql("duckdb")
'CAST(id AS TEXT) IN (SELECT subject FROM veil_pending)'
"""

from __future__ import annotations

from sqlglot import exp

from veil.identity.graph import Domain, IdentityGraph, TableIdentity
from veil.identity.subjects import SubjectKind, is_integer_type

PENDING = "veil_pending"
SUBJECT_COLUMN, KEY_COLUMN = "veil_subject", "veil_key"


def in_query(value: exp.Expression, query: exp.Select) -> exp.In:
    """`value IN (query)`."""
    return exp.In(this=value, query=exp.Subquery(this=query))


def _pending(column: exp.Expression) -> exp.Select:
    return exp.select(column).from_(PENDING)


def _text(column: exp.Expression) -> exp.Expression:
    return exp.cast(column.copy(), exp.DataType.Type.VARCHAR)


def _type(sql_type: str) -> exp.DataType:
    return exp.DataType.build(sql_type, dialect="duckdb")


def subject_match(column: exp.Expression, column_type: str, kind: SubjectKind) -> exp.Expression:
    """`column` holds one of the pending subjects (exactly: canonical ids cast, never loosened)."""
    if kind is SubjectKind.INTEGER and is_integer_type(column_type):
        return in_query(column.copy(), _pending(exp.TryCast(this=exp.column("subject"), to=_type(column_type))))
    return in_query(_text(column), _pending(exp.column("subject")))


def _comparable(left_type: str, right_type: str) -> bool:
    """Values of these types compare as they are (else both sides are compared as text)."""
    return left_type.upper() == right_type.upper() or (is_integer_type(left_type) and is_integer_type(right_type))


def _equal(left: exp.Expression, left_type: str, right: exp.Expression, right_type: str) -> exp.Expression:
    if _comparable(left_type, right_type):
        return exp.EQ(this=left.copy(), expression=right.copy())
    return exp.EQ(this=_text(left), expression=_text(right))


def _derived(query: exp.Select, alias: str) -> exp.Subquery:
    """`(query) AS alias` as a FROM or JOIN item."""
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _col(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def mapping(graph: IdentityGraph, domain: Domain, depth: int = 0) -> tuple[exp.Select, str]:
    """(SELECT DISTINCT veil_subject, veil_key ..., the key's SQL type) for a domain."""
    if domain.is_subject:
        return exp.select(exp.alias_(exp.column("subject"), SUBJECT_COLUMN),
                          exp.alias_(exp.column("subject"), KEY_COLUMN)).from_(PENDING), "VARCHAR"
    holder = graph.domain_table(domain)
    alias = f"veil_p{depth}"
    policy = holder.policy.policy
    key = holder.columns.get(domain.column, domain.column)
    key_type = holder.types.get(domain.column, "VARCHAR")
    table = holder.table.expression.as_(alias)
    if policy.subject_column:
        subject = holder.columns.get(policy.subject_column.lower(), policy.subject_column)
        query = exp.select(exp.alias_(_text(_col(alias, subject)), SUBJECT_COLUMN),
                           exp.alias_(_col(alias, key), KEY_COLUMN)).from_(table).where(
            subject_match(_col(alias, subject), holder.types.get(subject.lower(), "VARCHAR"), graph.kind))
    else:
        via = policy.via
        parent = Domain(graph.policy_name(via.relation), via.key.lower())
        inner, inner_type = mapping(graph, parent, depth + 1)
        inner_alias = f"veil_m{depth}"
        via_column = holder.columns.get(via.via.lower(), via.via)
        on = _equal(_col(alias, via_column), holder.types.get(via.via.lower(), "VARCHAR"),
                    _col(inner_alias, KEY_COLUMN), inner_type)
        query = exp.select(exp.alias_(_col(inner_alias, SUBJECT_COLUMN), SUBJECT_COLUMN),
                           exp.alias_(_col(alias, key), KEY_COLUMN)).from_(table).join(_derived(inner, inner_alias), on=on)
    return query.distinct(), key_type


def identity_match(graph: IdentityGraph, table: TableIdentity, column: str, domain: Domain,
                   alias: str | None = None) -> exp.Expression:
    """`column` of `table` holds a pending subject's id or key."""
    reference = exp.column(column, table=alias, quoted=True)
    column_type = table.types.get(column.lower(), "VARCHAR")
    if domain.is_subject:
        return subject_match(reference, column_type, graph.kind)
    query, key_type = mapping(graph, domain)
    if _comparable(column_type, key_type):
        return in_query(reference, exp.select(exp.column(KEY_COLUMN)).from_(_derived(query, "veil_keys")))
    return in_query(_text(reference), exp.select(_text(exp.column(KEY_COLUMN))).from_(_derived(query, "veil_keys")))


def pending_rows(graph: IdentityGraph, table: TableIdentity, alias: str | None = None) -> exp.Expression:
    """A row of `table` belongs to a pending subject (through any of its identity columns)."""
    matches = [identity_match(graph, table, column, domain, alias) for column, domain in table.identities]
    condition = matches[0]
    for match in matches[1:]:
        condition = exp.or_(condition, match)
    return condition


def _joined(graph: IdentityGraph, table: TableIdentity, column: str, domain: Domain) -> exp.Select:
    """`FROM table AS veil_t JOIN (mapping) AS veil_m`: each row with its pending subject, through `column`."""
    query, key_type = mapping(graph, domain)
    reference = exp.column(column, table="veil_t", quoted=True)
    key = exp.column(KEY_COLUMN, table="veil_m")
    on = (exp.EQ(this=_text(reference), expression=key) if domain.is_subject
          else _equal(reference, table.types.get(column.lower(), "VARCHAR"), key, key_type))
    return exp.select().from_(table.table.expression.as_("veil_t")).join(_derived(query, "veil_m"), on=on)


def count_by_subject(graph: IdentityGraph, table: TableIdentity) -> exp.Expression:
    """SELECT veil_subject, count(*): the table's rows per pending subject.

    Counted through the subject columns when the table has any (a key column of
    the same table, `orders.order_id` in orders, finds the same rows again),
    else through each key column, summed.
    """
    direct = [(c, d) for c, d in table.identities if d.is_subject]
    subject = exp.column(SUBJECT_COLUMN, table="veil_m")
    branches = [_joined(graph, table, column, domain).select(subject, exp.Count(this=exp.Star())).group_by(subject)
                for column, domain in direct or table.identities]
    union = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False)
    return union


def values_by_subject(graph: IdentityGraph, table: TableIdentity, column: str) -> exp.Select:
    """SELECT DISTINCT veil_subject, CAST(column AS VARCHAR): a column's stored values per pending subject,
    through the table's first identity column."""
    identity, domain = table.identities[0]
    value = exp.column(column, table="veil_t", quoted=True)
    return _joined(graph, table, identity, domain).select(
        exp.column(SUBJECT_COLUMN, table="veil_m"), _text(value)).where(value.is_(exp.Null()).not_()).distinct()


def keys_of(graph: IdentityGraph, domain: Domain) -> exp.Select:
    """SELECT veil_subject, CAST(veil_key AS VARCHAR): a domain's keys as text (for files outside the warehouse)."""
    query, _ = mapping(graph, domain)
    return exp.select(exp.column(SUBJECT_COLUMN), exp.alias_(_text(exp.column(KEY_COLUMN)), KEY_COLUMN)).from_(
        _derived(query, "veil_keys"))
