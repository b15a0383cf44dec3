"""Generate the `veil lint` speed benchmark's corpus: compiled dbt-style SQL queries.

Every query is plain DuckDB SQL (no Jinja) over the reference project's
relations by their physical names (`raw.users`, `stg_raw__events`,
`analyst__payments`, ...), 15 to 80 lines, in the shapes dbt projects compile
to: CTE pipelines (staging -> intermediate -> final), joins on one or two
keys, window functions, aggregates with HAVING, CASE, date truncation,
UNION ALL, IN / EXISTS / scalar subqueries, derived tables, QUALIFY, ORDER BY
and LIMIT. About 10% hold a `*`, about 30% use an unmasked PII column, some
call veil's masking functions; each starts with `-- veil: purpose=...`.
The same seed writes the same bytes.

    python scripts/bench/lint_corpus.py [--out target/lint_corpus] [--count 300] [--seed 7] [--check]

`--check` parses every query with sqlglot (DuckDB dialect) and binds it with
`EXPLAIN` against an empty DuckDB schema of the reference relations.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import sqlglot

DEFAULT_SEED = 7
MIN_LINES, MAX_LINES = 15, 80

# ---------------------------------------------------------------- the catalog

VOCAB = {
    "gender": ("female", "male", "nonbinary", "unknown"),
    "country": ("US", "DE", "FR", "GB", "BR", "IN", "JP"),
    "event_type": ("page_view", "click", "search", "add_to_cart", "purchase", "login", "logout"),
    "currency": ("USD", "EUR", "GBP", "BRL", "INR", "JPY"),
    "purpose": ("analytics", "marketing", "ml_training", "data_sharing"),
}

# The raw tables as policies/tables/*.yml and models/staging/_raw__sources.yml
# declare them: (column, DuckDB type, kind). Kind `pii` marks what must not be
# used unmasked for analytics or ml_training.
FAMILIES = {
    "users": (("user_id", "BIGINT", "key"), ("name", "VARCHAR", "pii"), ("email", "VARCHAR", "pii"),
              ("phone", "VARCHAR", "pii"), ("ssn", "VARCHAR", "pii"), ("birth_date", "DATE", "pii"),
              ("zip", "VARCHAR", "pii"), ("gender", "VARCHAR", "dim"), ("country", "VARCHAR", "dim"),
              ("created_at", "TIMESTAMP", "time")),
    "events": (("event_id", "BIGINT", "id"), ("user_id", "BIGINT", "key"), ("device_id", "VARCHAR", "pii"),
               ("ip_address", "VARCHAR", "pii"), ("event_type", "VARCHAR", "dim"),
               ("amount", "DECIMAL(12, 2)", "num"), ("event_ts", "TIMESTAMP", "time")),
    "payments": (("payment_id", "BIGINT", "id"), ("user_id", "BIGINT", "key"), ("card_number", "VARCHAR", "pii"),
                 ("amount", "DECIMAL(12, 2)", "num"), ("currency", "VARCHAR", "dim"),
                 ("paid_at", "TIMESTAMP", "time")),
    "consent": (("consent_id", "BIGINT", "id"), ("user_id", "BIGINT", "key"), ("purpose", "VARCHAR", "dim"),
                ("granted", "BOOLEAN", "flag"), ("recorded_at", "TIMESTAMP", "time")),
}
# The PII a query uses on purpose; a second PII column may ride along.
PII_TARGETS = {"users": ("name", "email", "phone", "ssn", "birth_date"),
               "events": ("ip_address",), "payments": ("card_number",)}
# veil's masking functions a query may call on a raw column: (function, column, alias).
# Some are not the policy's masking for the query's purpose, which the linter reports.
MASKINGS = {
    "users": (("veil_mask_domain_only", "email", "email_domain"), ("veil_mask_hash", "email", "email_hash"),
              ("veil_mask_hash", "phone", "phone_hash"), ("veil_mask_year_only", "birth_date", "birth_year"),
              ("veil_mask_zip3", "zip", "zip3")),
    "events": (("veil_mask_hash", "device_id", "device_hash"), ("veil_mask_subnet_only", "ip_address", "ip_subnet")),
    "payments": (("veil_mask_last4", "card_number", "card_last4"), ("veil_mask_hash", "card_number", "card_hash")),
}
MASK_STRATEGIES = ("domain_only", "hash", "last4", "redact", "subnet_only", "year_only", "zip3")
ACTIVITY_LABELS = {"users": "signup", "events": "event", "payments": "payment", "consent": "consent"}


@dataclass(frozen=True)
class Relation:
    """A physical relation of the reference project over one family's columns."""

    name: str
    family: str
    tier: str                                                  # raw, staging, or the audience's purpose
    renamed: Mapping[str, str] = field(default_factory=dict)  # column -> physical name
    masked: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # column -> (alias, type)
    dropped: tuple[str, ...] = ()

    def columns(self) -> list[tuple[str, Col]]:
        """(physical name, column as a query names it), in table order."""
        out = []
        for name, sqltype, kind in FAMILIES[self.family]:
            if name in self.dropped:
                continue
            if name in self.masked:
                alias, masked_type = self.masked[name]
                out.append((name, Col(alias, "masked", masked_type)))
            else:
                out.append((self.renamed.get(name, name), Col(name, kind, sqltype, VOCAB.get(name, ()))))
        return out


def _audience(purpose: str, family: str, **spec) -> Relation:
    prefix = {"analytics": "analyst", "ml_training": "ml"}[purpose]
    return Relation(f"{prefix}__{family}", family, purpose, **spec)


USERS_MASKED = {"birth_date": ("birth_year", "BIGINT"), "zip": ("zip3", "VARCHAR")}
RELATIONS = (
    Relation("raw.users", "users", "raw"),
    Relation("stg_raw__users", "users", "staging", {"name": "full_name", "zip": "zip_code", "country": "country_code"}),
    _audience("analytics", "users", masked={"email": ("email_domain", "VARCHAR"), **USERS_MASKED},
              dropped=("name", "phone", "ssn")),
    _audience("ml_training", "users", masked=USERS_MASKED, dropped=("name", "email", "phone", "ssn", "gender")),
    Relation("raw.events", "events", "raw"),
    Relation("stg_raw__events", "events", "staging", {"amount": "purchase_amount", "event_ts": "event_at"}),
    _audience("analytics", "events", masked={"device_id": ("device_hash", "VARCHAR"),
                                             "ip_address": ("ip_subnet", "VARCHAR")}),
    _audience("ml_training", "events", masked={"device_id": ("device_hash", "VARCHAR")}, dropped=("ip_address",)),
    Relation("raw.payments", "payments", "raw"),
    Relation("stg_raw__payments", "payments", "staging", {"currency": "currency_code"}),
    _audience("analytics", "payments", dropped=("card_number",)),
    _audience("ml_training", "payments", dropped=("card_number",)),
    Relation("raw.consent_events", "consent", "raw"),
    Relation("stg_raw__consent_events", "consent", "staging", {"granted": "is_granted"}),
)

# ------------------------------------------------------ columns in a query


@dataclass(frozen=True)
class Col:
    name: str
    kind: str            # key, id, dim, pii, masked, num, time, flag, text
    type: str = "VARCHAR"
    values: tuple[str, ...] = ()


GROUPABLE = ("key", "dim", "pii", "masked", "text")


@dataclass(frozen=True)
class Rel:
    """A CTE (or derived table) and the columns it yields."""

    name: str
    root: str            # a stem for the names of what is built on it
    cols: tuple[Col, ...]

    def of(self, *kinds: str) -> list[Col]:
        return [c for c in self.cols if c.kind in kinds]

    def first(self, kind: str) -> Col | None:
        return next(iter(self.of(kind)), None)

    def fresh(self, stem: str) -> str:
        """`stem`, or `stem_2`... when a column of that name exists already."""
        names = {c.name for c in self.cols}
        candidates = [stem] + [f"{stem}_{n}" for n in range(2, 99)]
        return next(n for n in candidates if n not in names)


@dataclass(frozen=True)
class CorpusQuery:
    name: str
    purpose: str
    text: str
    features: frozenset[str]


def ref(rel: Rel, alias: str | None = None) -> str:
    """A marker for a relation in FROM, resolved at render time to a CTE name or a derived table."""
    return f"\x00{rel.name}:{alias or ''}\x00"


MARKER = re.compile(r"\x00(\w+):(\w*)\x00")


def items(lines: Iterable[str]) -> str:
    """A select list, one item a line, indented under its clause."""
    return ",\n".join(f"    {line}" for line in lines)


def qualified(rel: Rel, cols: Iterable[Col], qualifier: str | None = None) -> list[str]:
    prefix = f"{qualifier or rel.name}."
    return [prefix + c.name for c in cols]


# ------------------------------------------------------------- a query


class Query:
    """One query being built: its CTEs in order, and what it holds."""

    def __init__(self, rng: random.Random, purpose: str, star: bool, pii: bool):
        self.rng = rng
        self.purpose = purpose
        self.star_pending = star
        self.pii_pending = pii
        self.pii_used = False     # read by a clause, not only carried along in a projection
        self.ctes: dict[str, str] = {}
        self.features: set[str] = set()

    def add(self, stem: str, body: str, root: str, cols: Iterable[Col]) -> Rel:
        name = next(n for n in [stem] + [f"{stem}_{i}" for i in range(2, 99)] if n not in self.ctes)
        self.ctes[name] = body
        return Rel(name, root, tuple(cols))

    def take_star(self, chance: float = 0.5) -> bool:
        """True (once per query) when this place should select `*`."""
        if self.star_pending and self.rng.random() < chance:
            self.star_pending = False
            self.features.add("star")
            return True
        return False

    def pick(self, cols: list[Col]) -> Col:
        """A column of `cols`: PII not used yet if there is some, PII a third of the time after."""
        pii = [c for c in cols if c.kind == "pii"]
        col = self.rng.choice(pii if pii and (not self.pii_used or self.rng.random() < 0.3) else cols)
        self.pii_used |= col.kind == "pii"
        return col

    def predicate(self, col: Col, expr: str | None = None) -> str:
        return self.rng.choice(predicates(col, expr or col.name))

    def where(self, rel: Rel, chance: float, qualifier: str = "") -> str:
        """An optional WHERE line on one of the relation's columns."""
        candidates = rel.of("dim", "pii", "num", "time", "flag")
        unused_pii = rel.of("pii") and not self.pii_used   # before a step that may drop it
        if not candidates or (self.rng.random() >= chance and not unused_pii):
            return ""
        col = self.pick(candidates)
        return f"\nwhere {self.predicate(col, qualifier + col.name)}"

    def render(self, final: str, inline: bool) -> str:
        header = f"-- veil: purpose={self.purpose}\n"
        if inline:
            return header + self._resolve(final, inline=True) + "\n"
        ctes = ",\n\n".join(f"{name} as (\n\n{textwrap.indent(self._resolve(body, inline=False), '    ')}\n\n)"
                            for name, body in self.ctes.items())
        return f"{header}with {ctes}\n\n{self._resolve(final, inline=False)}\n"

    def _resolve(self, text: str, inline: bool) -> str:
        def replace(match: re.Match) -> str:
            name, alias = match.group(1), match.group(2)
            if not inline:
                return f"{name} as {alias}" if alias else name
            body = textwrap.indent(self._resolve(self.ctes[name], inline), "    ")
            return f"(\n{body}\n) as {alias or name}"
        return "\n".join(_indent_continuation(MARKER.sub(replace, line)) for line in text.split("\n"))

    def references(self, final: str) -> Counter:
        """How often each CTE is read: inlining is for CTEs read once."""
        texts = [*self.ctes.values(), final]
        return Counter({name: 0 for name in self.ctes}) + Counter(
            m.group(1) for text in texts for m in MARKER.finditer(text))


def _indent_continuation(text: str) -> str:
    """A line that grew into several (an inlined derived table) keeps its indentation."""
    first, *rest = text.split("\n")
    pad = " " * (len(first) - len(first.lstrip()))
    return "\n".join([first] + [pad + line for line in rest])


def predicates(col: Col, expr: str) -> list[str]:
    """Valid conditions on a column, by its kind and type."""
    if col.values:
        a, b = col.values[:2]
        return [f"{expr} = '{a}'", f"{expr} in ('{a}', '{b}')", f"{expr} <> '{b}'"]
    if col.kind == "num":
        return [f"{expr} > 20", f"{expr} between 5 and 500", f"coalesce({expr}, 0) >= 1"]
    if col.kind == "flag":
        return [expr, f"not {expr}", f"{expr} = true"]
    if col.type == "TIMESTAMP":
        return [f"{expr} >= timestamp '2025-01-01 00:00:00'", f"{expr} >= current_date - interval 90 day",
                f"{expr} < date '2026-10-01'"]
    if col.type == "DATE":
        return [f"{expr} < date '2000-01-01'", f"{expr} is not null"]
    if col.type == "VARCHAR":
        return [f"{expr} is not null", f"trim({expr}) <> ''", f"length({expr}) > 4"]
    return [f"{expr} is not null"]


# ------------------------------------------------------------- stages


def choose_relation(q: Query, family: str, with_pii: bool) -> Relation:
    tiers = ["raw", "staging"] + ([] if with_pii or family == "consent" else [q.purpose, q.purpose])
    tier = q.rng.choice(tiers)
    return next(r for r in RELATIONS if r.family == family and r.tier == tier)


def stage(q: Query, family: str) -> Rel:
    """The import CTE: the columns a query needs from one relation, renamed to their usual names."""
    with_pii = q.pii_pending and family in PII_TARGETS
    relation = choose_relation(q, family, with_pii)
    if not relation.renamed and not relation.masked and relation.tier != "raw" and q.take_star(0.3):
        cols = [c for _, c in relation.columns()]
        return q.add(family, f"select *\nfrom {relation.name}", family, cols)
    wanted = _wanted_pii(q, family) if with_pii else set()
    lines, cols = [], []
    for physical, col in relation.columns():
        if (col.kind == "pii" and col.name not in wanted) or (col.name == "gender" and q.purpose == "ml_training"):
            continue
        lines.append(_projection(q.rng, physical, col))
        cols.append(col)
    if relation.tier in ("raw", "staging") and family in MASKINGS and q.rng.random() < 0.3:
        function, column, alias = q.rng.choice(MASKINGS[family])
        lines.append(f"{function}({relation.renamed.get(column, column)}) as {alias}")
        cols.append(Col(alias, "masked"))
        q.features.add("masked")
    filters = [c for _, c in relation.columns() if c.kind in ("dim", "time") and c in cols]
    where = ""
    if filters and q.rng.random() < 0.35:
        col = q.rng.choice(filters)
        where = f"\nwhere {q.predicate(col, relation.renamed.get(col.name, col.name))}"
    return q.add(family, f"select\n{items(lines)}\nfrom {relation.name}{where}", family, cols)


def _wanted_pii(q: Query, family: str) -> set[str]:
    q.pii_pending = False
    q.features.add("pii")
    wanted = {q.rng.choice(PII_TARGETS[family])}
    if q.rng.random() < 0.3:
        wanted.add(q.rng.choice([name for name, _, kind in FAMILIES[family] if kind == "pii"]))
    return wanted


def _projection(rng: random.Random, physical: str, col: Col) -> str:
    if physical != col.name:
        return f"{physical} as {col.name}"
    if col.type in ("TIMESTAMP", "BIGINT") and rng.random() < 0.3:
        return f"cast({physical} as {col.type.lower()}) as {col.name}"
    return physical


# --------------------------------------------------------- transforms

PERIODS = {"day": "activity_date", "week": "activity_week", "month": "activity_month"}


def aggregate(q: Query, rel: Rel, period: str | None = None, by_user: bool = False) -> Rel:
    """GROUP BY the user and/or a dimension or period, with measures and sometimes HAVING."""
    groups: list[tuple[str, Col]] = []
    key = rel.first("key")
    if key and (by_user or period or q.rng.random() < 0.7):
        groups.append((key.name, key))
    time_col = rel.first("time")
    if period and time_col:
        trunc = (f"cast({time_col.name} as date)" if period == "day" and q.rng.random() < 0.5
                 else f"date_trunc('{period}', {time_col.name})")
        groups.append((trunc, Col(PERIODS[period], "time", "DATE")))
    others = [c for c in rel.of(*GROUPABLE) if c.kind != "key"]
    if others and (not groups or q.rng.random() < 0.5):
        col = q.pick(others)
        groups.append((col.name, col))
    if not groups:
        groups.append((key.name, key) if key else (f"date_trunc('month', {time_col.name})",
                                                   Col("activity_month", "time", "DATE")))
    candidates = measures_of(rel)
    measures = q.rng.sample(candidates, k=min(len(candidates), q.rng.randint(2, 4)))
    lines = [expr if expr == col.name else f"{expr} as {col.name}" for expr, col in groups]
    lines += [f"{expr} as {col.name}" for expr, col in measures]
    group_by = (", ".join(str(i + 1) for i in range(len(groups))) if q.rng.random() < 0.5
                else ", ".join(expr for expr, _ in groups))
    having = f"\nhaving count(*) > {q.rng.choice((1, 2, 5, 10))}" if q.rng.random() < 0.3 else ""
    body = f"select\n{items(lines)}\nfrom {ref(rel)}{q.where(rel, 0.3)}\ngroup by {group_by}{having}"
    suffix = q.rng.choice(("summary", "totals", "rollup", "by_user" if key else "stats"))
    cols = [c for _, c in groups] + [c for _, c in measures]
    return q.add(f"{rel.root}_{suffix}", body, rel.root, cols)


def measures_of(rel: Rel) -> list[tuple[str, Col]]:
    """(expression, column) of the aggregates that make sense over `rel`."""
    def num(name: str) -> Col:
        return Col(name, "num", "DOUBLE")
    out = [("count(*)", num(f"{rel.root}_count"))]
    out += [(f"sum({c.name})", num(f"total_{c.name}")) for c in rel.of("num")[:1]]
    out += [(f"avg({c.name})", num(f"avg_{c.name}")) for c in rel.of("num")[:1]]
    out += [(f"count(distinct {c.name})", num(f"distinct_{c.name}s")) for c in rel.of("id")[:1]]
    out += [(f"min({c.name})", Col(f"first_{c.name}", "time", c.type)) for c in rel.of("time")[:1]]
    out += [(f"max({c.name})", Col(f"last_{c.name}", "time", c.type)) for c in rel.of("time")[:1]]
    out += [(f"count(case when {c.name} = '{c.values[-1]}' then 1 end)", num(f"{c.values[-1]}_count"))
            for c in rel.of("dim")[:1] if c.values]
    out += [(f"sum(case when {c.name} then 1 else 0 end)", num(f"{c.name}_count")) for c in rel.of("flag")]
    return out


def window(q: Query, rel: Rel) -> Rel:
    """Window functions partitioned by the user or a dimension."""
    time_col, num = rel.first("time"), rel.first("num")
    part = q.pick(rel.of(*GROUPABLE))
    over = f"partition by {part.name} order by {time_col.name}"
    options = [(f"row_number() over ({over} desc)", Col(rel.fresh("recency_rank"), "num", "BIGINT")),
               (f"lag({time_col.name}) over ({over})", Col(rel.fresh(f"previous_{time_col.name}"), "time",
                                                           time_col.type)),
               (f"count(*) over (partition by {part.name})", Col(rel.fresh(f"{part.name}_rows"), "num", "BIGINT"))]
    if num:
        options.append((f"sum({num.name}) over ({over} rows between unbounded preceding and current row)",
                        Col(rel.fresh(f"running_{num.name}"), "num", "DOUBLE")))
    added = q.rng.sample(options, k=q.rng.randint(1, len(options)))
    lines = (["*"] if q.take_star() else [c.name for c in rel.cols]) + [f"{e} as {c.name}" for e, c in added]
    body = f"select\n{items(lines)}\nfrom {ref(rel)}"
    cols = rel.cols + tuple(c for _, c in added)
    return q.add(f"{rel.root}_{q.rng.choice(('ranked', 'windowed', 'sequenced'))}", body, rel.root, cols)


def latest(q: Query, rel: Rel) -> Rel:
    """The latest row per user (or dimension): QUALIFY, or a ranked derived table."""
    time_col = rel.first("time")
    part = rel.first("key") or q.pick(rel.of(*GROUPABLE))
    rank = f"row_number() over (partition by {part.name} order by {time_col.name} desc)"
    names = [c.name for c in rel.cols]
    if q.rng.random() < 0.35:
        q.features.add("qualify")
        body = f"select\n{items(names)}\nfrom {ref(rel)}\nqualify {rank} = 1"
    else:
        inner = textwrap.indent(f"select\n{items(names + [f'{rank} as recency_rank'])}\nfrom {ref(rel)}", "    ")
        body = f"select\n{items(names)}\nfrom (\n{inner}\n) as ranked\nwhere recency_rank = 1"
    return q.add(f"latest_{rel.root}", body, rel.root, rel.cols)


def bucket(q: Query, rel: Rel) -> Rel:
    """CASE bands and date parts added to every column, sometimes filtered."""
    options = []
    for col in rel.of("num")[:1]:
        options.append((f"case\n        when {col.name} >= 100 then 'large'\n        when {col.name} >= 20 "
                        f"then 'medium'\n        when {col.name} > 0 then 'small'\n        else 'none'\n    end",
                        Col(rel.fresh(f"{col.name}_band"), "dim", values=("large", "medium", "small", "none"))))
    for col in [c for c in rel.of("dim") if len(c.values) > 3][:1]:
        a, b, c = col.values[:3]
        options.append((f"case\n        when {col.name} in ('{a}', '{b}') then 'core'\n        when {col.name} = "
                        f"'{c}' then 'growth'\n        else 'other'\n    end",
                        Col(rel.fresh(f"{col.name}_segment"), "dim", values=("core", "growth", "other"))))
    for col in rel.of("time")[:1]:
        grain = q.rng.choice(("week", "month", "quarter"))
        options.append((f"date_trunc('{grain}', {col.name})", Col(rel.fresh(f"{col.name}_{grain}"), "time", "DATE")))
        options.append((f"dayname({col.name})", Col(rel.fresh(f"{col.name}_weekday"), "text")))
    if not options:
        return rel
    added = q.rng.sample(options, k=q.rng.randint(1, min(2, len(options))))
    lines = (["*"] if q.take_star() else [c.name for c in rel.cols]) + [f"{e} as {c.name}" for e, c in added]
    body = f"select\n{items(lines)}\nfrom {ref(rel)}{q.where(rel, 0.5)}"
    return q.add(f"{rel.root}_{q.rng.choice(('enriched', 'classified', 'banded'))}", body, rel.root,
                 rel.cols + tuple(c for _, c in added))


def semi_join(q: Query, rel: Rel, other: Rel) -> Rel:
    """Rows of `rel` whose user is (not) IN / EXISTS in `other`, or above the average."""
    on = q.pick(other.of("dim", "pii", "num", "time", "flag", "key"))
    cond = q.predicate(on, f"o.{on.name}")
    variant = q.rng.choice(("in", "not in", "exists", "not exists", "scalar"))
    num = rel.first("num")
    if variant == "scalar" and num:
        where = f"{rel.name}.{num.name} > (\n    select avg({num.name})\n    from {ref(rel)}\n)"
    elif variant in ("in", "not in"):
        where = f"{rel.name}.user_id {variant} (\n    select o.user_id\n    from {ref(other, 'o')}\n    where {cond}\n)"
    else:
        negation = "not " if variant == "not exists" else ""
        where = (f"{negation}exists (\n    select 1\n    from {ref(other, 'o')}\n"
                 f"    where o.user_id = {rel.name}.user_id\n        and {cond}\n)")
    body = f"select\n{items(qualified(rel, rel.cols))}\nfrom {ref(rel)}\nwhere {where}"
    return q.add(f"{rel.root}_{q.rng.choice(('filtered', 'eligible', 'selected'))}", body, rel.root, rel.cols)


def scalar_column(q: Query, rel: Rel, other: Rel) -> Rel:
    """A correlated (or plain) scalar subquery as a new column."""
    time_col = other.first("time")
    options = [(f"select count(*)\n        from {ref(other, 'o')}\n        where o.user_id = {rel.name}.user_id",
                Col(rel.fresh(f"{other.root}_count"), "num", "BIGINT")),
               (f"select count(distinct o.user_id)\n        from {ref(other, 'o')}",
                Col(rel.fresh(f"total_{other.root}_users"), "num", "BIGINT"))]
    if time_col:
        options.append((f"select max(o.{time_col.name})\n        from {ref(other, 'o')}\n"
                        f"        where o.user_id = {rel.name}.user_id",
                        Col(rel.fresh(f"last_{other.root}_at"), "time", "TIMESTAMP")))
    sub, col = q.rng.choice(options)
    lines = qualified(rel, rel.cols) + [f"(\n        {sub}\n    ) as {col.name}"]
    body = f"select\n{items(lines)}\nfrom {ref(rel)}"
    return q.add(f"{rel.root}_with_{other.root}", body, rel.root, rel.cols + (col,))


def join(q: Query, left: Rel, right: Rel) -> Rel:
    """Join on the user and on every other column of the same name (a period, a dimension)."""
    how = q.rng.choice(("inner join", "left join", "left join"))
    names = {c.name for c in left.cols}
    shared = [c for c in right.cols if c.name in names and c.kind in ("key", "time", "dim", "pii")]
    on = "\n    and ".join(f"{left.name}.{c.name} = {right.name}.{c.name}" for c in shared)
    extra = [c for c in right.cols if c.name not in names]
    left_lines = [f"{left.name}.*"] if q.take_star() else qualified(left, left.cols)
    right_lines = [f"coalesce({right.name}.{c.name}, 0) as {c.name}" if how == "left join" and c.kind == "num"
                   else f"{right.name}.{c.name}" for c in extra]
    body = (f"select\n{items(left_lines + right_lines)}\nfrom {ref(left)}\n{how} {ref(right)}\n    on {on}"
            f"{q.where(left, 0.3, f'{left.name}.')}")
    q.features.add("join")
    return q.add(f"{left.root}_{right.root}", body, left.root, left.cols + tuple(extra))


def duplicate_accounts(q: Query, users: Rel) -> Rel:
    """Users sharing a PII value: a self-join on it."""
    col = q.rng.choice([c for c in users.of("pii") if c.type == "VARCHAR"])
    created = users.first("time")
    lines = ["a.user_id", "b.user_id as duplicate_user_id", f"a.{col.name}", f"a.{created.name}"]
    body = (f"select\n{items(lines)}\nfrom {ref(users, 'a')}\ninner join {ref(users, 'b')}\n"
            f"    on a.{col.name} = b.{col.name}\n    and a.user_id < b.user_id")
    cols = (users.first("key"), Col("duplicate_user_id", "id", "BIGINT"), col, created)
    return q.add("duplicate_accounts", body, "accounts", cols)


def union(q: Query, rels: list[Rel]) -> Rel:
    """One activity stream: a UNION ALL branch per family."""
    branches = []
    for rel in rels:
        time_col, num = rel.first("time"), rel.first("num")
        label = f"'{ACTIVITY_LABELS[rel.root]}'"
        amount = num.name if num else "cast(null as decimal(12, 2))"
        lines = ["user_id", f"{time_col.name} as activity_at", f"{label} as activity_source", f"{amount} as amount"]
        branches.append(f"select\n{items(lines)}\nfrom {ref(rel)}{q.where(rel, 0.3)}")
    q.features.add("union")
    labels = tuple(ACTIVITY_LABELS[r.root] for r in rels)
    cols = (Col("user_id", "key", "BIGINT"), Col("activity_at", "time", "TIMESTAMP"),
            Col("activity_source", "dim", values=labels), Col("amount", "num", "DECIMAL(12, 2)"))
    return q.add("activity", "\nunion all\n".join(branches), "activity", cols)


def final_select(q: Query, rel: Rel) -> str:
    """The model's last SELECT: some columns, a filter, an order, a limit."""
    if q.take_star(1.0):
        other = [c.name for c in rel.cols if c.kind != "key"]
        lines = [q.rng.choice(["*", f"{rel.name}.*", f"* exclude ({q.rng.choice(other or ['user_id'])})"])]
    else:
        keep = sorted(q.rng.sample(range(len(rel.cols)), k=min(len(rel.cols), q.rng.randint(3, 9))))
        lines = [rel.cols[i].name for i in keep]
    text = f"select\n{items(lines)}\nfrom {ref(rel)}{q.where(rel, 0.25)}"
    if q.rng.random() < 0.5:
        order = q.rng.sample(rel.cols, k=min(2, len(rel.cols)))
        text += "\norder by " + ", ".join(f"{c.name}{q.rng.choice(('', ' desc'))}" for c in order)
        if q.rng.random() < 0.6:
            text += f"\nlimit {q.rng.choice((10, 100, 500, 1000))}"
    return text


# ------------------------------------------------------------- shapes

FACT_FAMILIES = ("events", "payments")


def pipeline(q: Query) -> Rel:
    """staging -> intermediate steps -> an aggregate."""
    rel = stage(q, q.rng.choice(("users",) + FACT_FAMILIES + ("consent",)))
    if any(c.kind == "pii" and c.type == "VARCHAR" for c in rel.cols) and rel.root == "users" and q.rng.random() < 0.4:
        rel = duplicate_accounts(q, rel)
    for step in q.rng.sample((bucket, latest, window), k=q.rng.randint(1, 2)):
        rel = step(q, rel)
    if q.rng.random() < 0.7:
        rel = aggregate(q, rel, q.rng.choice((None, None, "day", "week", "month")))
    return rel


def user_rollup(q: Query) -> Rel:
    """Users left-joined to a per-user aggregate of a fact table."""
    first = q.rng.random() < 0.5
    facts = stage(q, q.rng.choice(FACT_FAMILIES + ("consent",))) if first else None
    users = stage(q, "users")
    facts = facts or stage(q, q.rng.choice(FACT_FAMILIES + ("consent",)))
    rolled = aggregate(q, facts, by_user=True) if q.rng.random() < 0.8 else latest(q, facts)
    rel = join(q, users, rolled)
    return bucket(q, rel) if q.rng.random() < 0.4 else rel


def period_join(q: Query) -> Rel:
    """Events and payments per user and period, joined on both keys."""
    period = q.rng.choice(tuple(PERIODS))
    events, payments = (aggregate(q, stage(q, family), period) for family in FACT_FAMILIES)
    rel = join(q, events, payments) if q.rng.random() < 0.5 else join(q, payments, events)
    return window(q, rel) if q.rng.random() < 0.3 else rel


def activity_stream(q: Query) -> Rel:
    """A UNION ALL of several families, then an aggregate or a window over it."""
    families = q.rng.sample(("users",) + FACT_FAMILIES + ("consent",), k=q.rng.randint(2, 3))
    rel = union(q, [stage(q, family) for family in families])
    if q.rng.random() < 0.5:
        return aggregate(q, rel, q.rng.choice(tuple(PERIODS)))
    return window(q, rel)


def filtered(q: Query) -> Rel:
    """A fact or dimension filtered by IN / EXISTS / a scalar, with a scalar subquery column."""
    main, other = q.rng.sample(("users",) + FACT_FAMILIES + ("consent",), k=2)
    rel, other_rel = stage(q, main), stage(q, other)
    rel = semi_join(q, rel, other_rel)
    if q.rng.random() < 0.6:
        rel = scalar_column(q, rel, other_rel)
    return aggregate(q, rel) if q.rng.random() < 0.3 else rel


SHAPES: tuple[Callable[[Query], Rel], ...] = (pipeline, pipeline, user_rollup, period_join, activity_stream, filtered)


def build_query(rng: random.Random, index: int) -> CorpusQuery:
    """One query, redrawn from the same stream until it has 15 to 80 lines."""
    while True:
        purpose = "ml_training" if rng.random() < 0.2 else "analytics"
        q = Query(rng, purpose, star=rng.random() < 0.1, pii=rng.random() < 0.3)
        shape = rng.choice(SHAPES)
        rel = shape(q)
        final = final_select(q, rel)
        inline = len(q.ctes) <= 3 and set(q.references(final).values()) == {1} and rng.random() < 0.3
        text = q.render(final, inline)
        if MIN_LINES <= text.count("\n") <= MAX_LINES:
            features = q.features | {shape.__name__} | ({"inline"} if inline else set())
            return CorpusQuery(f"q{index:04d}.sql", purpose, text, frozenset(features))


def generate(count: int = 300, seed: int = DEFAULT_SEED) -> list[CorpusQuery]:
    rng = random.Random(seed)
    return [build_query(rng, index) for index in range(1, count + 1)]


def write_corpus(out: Path, queries: list[CorpusQuery]) -> None:
    """Write `q0001.sql`..., replacing an earlier corpus's files."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("q[0-9][0-9][0-9][0-9].sql"):
        stale.unlink()
    for query in queries:
        (out / query.name).write_text(query.text, encoding="utf-8")


# -------------------------------------------------------------- check


def schema_sql() -> str:
    """DDL of every reference relation, and stubs of veil's masking macros."""
    statements = ["CREATE SCHEMA IF NOT EXISTS raw"]
    for relation in RELATIONS:
        types = {name: sqltype for name, sqltype, _ in FAMILIES[relation.family]}
        columns = ", ".join(f"{physical} {col.type if col.kind == 'masked' else types[col_name(relation, physical)]}"
                            for physical, col in relation.columns())
        statements.append(f"CREATE TABLE {relation.name} ({columns})")
    statements += [f"CREATE MACRO veil_mask_{strategy}(x) AS x" for strategy in MASK_STRATEGIES]
    return ";\n".join(statements) + ";"


def col_name(relation: Relation, physical: str) -> str:
    return next((name for name, renamed in relation.renamed.items() if renamed == physical), physical)


def check_queries(queries: Mapping[str, str]) -> list[str]:
    """`name: error` for each query that does not parse (sqlglot, DuckDB) or bind (DuckDB EXPLAIN)."""
    con = duckdb.connect()
    con.execute(schema_sql())
    failures = []
    for name, text in queries.items():
        try:
            statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
            if len(statements) != 1:
                raise ValueError(f"{len(statements)} statements")
            con.execute(f"EXPLAIN {text}")
        except Exception as error:    # any failure is a broken template: report them all
            failures.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0]}")
    con.close()
    return failures


def mix(queries: list[CorpusQuery]) -> Counter:
    return Counter(feature for query in queries for feature in query.features | {query.purpose})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("target/lint_corpus"))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--check", action="store_true", help="parse and bind every query")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    queries = generate(args.count, args.seed)
    write_corpus(args.out, queries)
    print(f"wrote {len(queries)} queries to {args.out} in {time.perf_counter() - started:.2f}s")
    print("mix: " + ", ".join(f"{name} {n}" for name, n in sorted(mix(queries).items())))
    if not args.check:
        return 0
    started = time.perf_counter()
    failures = check_queries({q.name: q.text for q in queries})
    for failure in failures:
        print(failure)
    print(f"check: {len(queries) - len(failures)} ok, {len(failures)} failed in {time.perf_counter() - started:.2f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
