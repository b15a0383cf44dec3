"""Policy drafts as YAML text: one table policy per classified table, and `policies/veil.yml`.

Every column is listed with its drafted classification, its type and a
comment saying why (confidence and evidence), and gets a default handling
for the audiences `veil init` creates: analysts (`analytics`) see masked
forms where one keeps some use (email domain, birth year, ZIP3, IP subnet,
keyed hash), support agents (`customer_support`) see what they need to
answer a customer (contact details, the last four digits of identifiers);
everything else direct or sensitive is dropped by veil's default rule.

>>> handling("email", "STRING", {"analytics", "customer_support"})
{'allowed_uses': ['customer_support'], 'masking': {'analytics': 'domain_only'}}
>>> handling("birth_date", "STRING", {"analytics"})
{}
>>> policy_type("DECIMAL(18,2)"), policy_type("HUGEINT"), policy_type("STRUCT(a INTEGER)")
('DECIMAL', 'BIGINT', None)
"""

from __future__ import annotations

import json
import re

from veil.classify.run import ColumnVerdict, TableResult
from veil.classify.subjects import Link
from veil.classify.values import kind_of
from veil.policy.names import IDENTIFIER, RESERVED_WORDS, identifier_problem
from veil.strategies import STRATEGIES
from veil.types import ColumnType

ANALYTICS, SUPPORT = "analytics", "customer_support"
ALLOW = "allow"
#: category -> (masking for analytics, handling for customer support)
DEFAULTS: dict[str, tuple[str | None, str | None]] = {
    "email": ("domain_only", ALLOW),
    "phone": (None, "last4"),
    "person_name": (None, ALLOW),
    "ssn": (None, "last4"),
    "national_id": (None, "last4"),
    "card_number": (None, "last4"),
    "iban": (None, "last4"),
    "street_address": (None, ALLOW),
    "username": ("hash", ALLOW),
    "ip_address": ("subnet_only", "subnet_only"),
    "device_id": ("hash", "hash"),
    "birth_date": ("year_only", ALLOW),
    "postal_code": ("zip3", ALLOW),
}
_SMALL_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "INT", "UTINYINT", "USMALLINT", "INT1", "INT2", "INT4")
_EVENT_TIMES = ("created_at", "updated_at", "event_ts", "event_time", "occurred_at", "recorded_at", "paid_at",
                "ordered_at", "order_date", "signup_date", "issued_on", "requested_at", "timestamp", "ts")


def policy_type(sql_type: str) -> str | None:
    """The policy `type:` of a SQL type (None when the vocabulary has none)."""
    kind = kind_of(sql_type or "")
    upper = (sql_type or "").upper()
    if kind == "text":
        return ColumnType.STRING.value
    if kind == "integer":
        return ColumnType.INTEGER.value if upper.split("(")[0] in _SMALL_INTEGERS else ColumnType.BIGINT.value
    if kind == "decimal":
        return ColumnType.DECIMAL.value if upper.startswith(("DECIMAL", "NUMERIC")) else ColumnType.DOUBLE.value
    return {"boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP"}.get(kind)


def _fits(strategy: str, column_type: str | None) -> bool:
    found = STRATEGIES[strategy]
    if found.fits is None:
        return True
    return column_type is not None and ColumnType(column_type).family in found.fits


def handling(category: str, column_type: str | None, purposes: set[str]) -> dict:
    """The drafted `data_handling` of a column (empty: veil's defaults decide)."""
    analytics, support = DEFAULTS.get(category, (None, None))
    result: dict = {}
    if support == ALLOW and SUPPORT in purposes:
        result["allowed_uses"] = [SUPPORT]
    masking = {}
    if analytics and ANALYTICS in purposes and _fits(analytics, column_type):
        masking[ANALYTICS] = analytics
    if support and support != ALLOW and SUPPORT in purposes and _fits(support, column_type):
        masking[SUPPORT] = support
    if masking:
        result["masking"] = masking
    return result


def policy_name(name: str) -> str:
    """A valid policy table name for a table (`Order Lines` -> `order_lines`, `order` -> `order_tbl`).

    >>> policy_name("Order Lines"), policy_name("order"), policy_name("2024_sales")
    ('order_lines', 'order_tbl', 't_2024_sales')
    """
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "table"
    if not IDENTIFIER.fullmatch(cleaned):
        cleaned = f"t_{cleaned}"
    if cleaned in RESERVED_WORDS:
        cleaned = f"{cleaned}_tbl"
    return cleaned[:63]


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def column_lines(verdict: ColumnVerdict, purposes: set[str], marker: str = "", indent: str = "  ") -> list[str]:
    """The YAML list item of one column, its comment first."""
    why = f"{verdict.classification.value} {verdict.category}, confidence {verdict.confidence:.2f}: {verdict.evidence}"
    problem = identifier_problem(verdict.column)
    if problem:
        return [f"{indent}# {marker}skipped column {_q(verdict.column)}: {_comment(problem)}; until it is renamed it "
                f"reaches no audience model ({_comment(why)})"]
    lines = [f"{indent}# {marker}{_comment(why)}", f"{indent}- name: {verdict.column}"]
    column_type = policy_type(verdict.type)
    if column_type:
        lines.append(f"{indent}  type: {column_type}")
    lines.append(f"{indent}  pii_classification: {verdict.classification.value}")
    drafted = handling(verdict.category, column_type, purposes)
    if drafted:
        lines.append(f"{indent}  data_handling:")
        if "allowed_uses" in drafted:
            lines.append(f"{indent}    allowed_uses: [{', '.join(drafted['allowed_uses'])}]")
        if "masking" in drafted:
            lines.append(f"{indent}    masking:")
            lines += [f"{indent}      {purpose}: {strategy}" for purpose, strategy in drafted["masking"].items()]
    return lines


def _subject_line(link: Link | None) -> str | None:
    if link is None:
        return None
    if identifier_problem(link.column):
        return f"# subject: {link.column}   # not a valid name: rename the column, then declare the subject"
    why = _comment(link.why)
    if link.via is None:
        return f"subject: {link.column}" + " " * max(1, 30 - len(link.column)) + f"# {why}"
    return (f"subject: {{via: {link.column}, relation: {_q(link.via.relation)}, key: {link.key}}}   "
            f"# reaches the subject through {link.via.key}: {why}")


def render_policy(name: str, result: TableResult, link: Link | None, purposes: set[str]) -> str:
    """A whole table policy."""
    sample = result.sample
    origin = {"warehouse": f"{sample.rows} rows sampled", "csv": f"{sample.rows} rows sampled from the seed file",
              "names": "no data: from its declared column names only"}[sample.origin]
    lines = [f"# Drafted by `veil init` from {sample.ref.key} ({origin}).",
             "# Review each column's classification and handling, then delete this comment;",
             "# `veil classify --check` keeps the policy honest in CI.",
             f"table: {name}", f"relation: {_q(sample.ref.relation)}"]
    subject = _subject_line(link)
    if subject:
        lines.append(subject)
    event_time = next((c for c in result.columns if c.column.lower() in _EVENT_TIMES
                       and kind_of(c.type or "") in {"date", "timestamp"}), None)
    if event_time is not None:
        lines.append(f"# event_time: {event_time.column}                # the column rows age by: uncomment it with "
                     "a retention_days: N")
    lines.append("schema:")
    for verdict in result.columns:
        lines += column_lines(verdict, purposes)
    return "\n".join(lines) + "\n"


def render_project(origin: str, consent: dict | None, erasure: dict | None, notes: dict[str, str]) -> str:
    """`policies/veil.yml`: the purposes and audiences of the drafts, the consent log and the registry."""
    lines = [f"# veil policies drafted by `veil init` from {origin}: purposes, audiences, consent, erasure.",
             "# Each table's schema contract is in policies/tables/<table>.yml. Then: veil compile && dbt build",
             "version: 1", "",
             "purposes:                          # dotted names: a rule on `marketing` covers `marketing.email`",
             '  analytics:        {consent: opt_out, description: "Product and business analytics"}'
             "   # included unless opted out",
             '  customer_support: {consent: none,    description: "Answering a customer\'s own request '
             '(contract basis)"}',
             "  # marketing:      {consent: opt_in}  # included only if the subject opted in", "",
             "audiences:                         # one generated model per table: <audience>__<table>",
             '  analyst: {purpose: analytics,        description: "Analysts: minimised and masked data"}',
             '  support: {purpose: customer_support, description: "Support agents answering a customer"}', ""]
    for key, spec, comment in (("consent", consent, "one row per consent decision; the latest wins"),
                               ("erasure", erasure, "the deletion registry: its subjects vanish from every model")):
        if spec is None:
            continue
        lines.append(f"{key}:" + " " * (34 - len(key)) + f"# {notes.get(key, comment)}")
        for field, value in spec.items():
            shown = _q(value) if field == "relation" else value
            lines.append(f"  {field}: {shown}")
        if key == "erasure":
            lines.append("  sla_days: 30                     # `veil audit sla` flags requests open longer")
        lines.append("")
    if consent is None:
        lines += ["# consent:                         # no data subject found: add a consent log when tables hold one",
                  "#   relation: \"ref('consent_log')\"", "#   subject: customer_id", ""]
    if erasure is None:
        lines += ["# erasure:                         # the deletion registry",
                  "#   relation: \"ref('deletion_requests')\"", "#   subject: customer_id",
                  "#   requested_at: requested_at", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
