"""Whose data each table holds: the subject table and key, and how every other table reaches it.

The subject table is the one that holds the most direct PII about a person
(its name, `customers`, `clients`, `users`..., adds weight); its key is its
unique id (`id`, `customer_id`). Another table holds the subject's id
itself (`orders.user_id`) or reaches it through a foreign key to a table that
does (`payments.order_id -> orders.id`: `subject: {via: ...}`), found from
dbt `relationships` tests, else from names checked against the values (the
child's sampled ids must be among the parent's keys).

A consent log (a purpose, a granted flag, a time and a subject) and a
deletion registry (a table named for deletion/erasure/forget requests) are
recognised and configured in `policies/veil.yml` instead of getting a policy.

>>> singular("categories"), singular("addresses"), singular("kunden"), table_words("raw_customers")
('category', 'address', 'kunde', ['customers'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.classify.discover import ProjectTables
from veil.classify.names import SUBJECT_NOUNS, tokens
from veil.classify.sample import Sampler, TableRef, TableSample
from veil.classify.values import kind_of

PREFIXES = frozenset("raw stg src dim fct fact base tbl t ods landing staging int".split())
_REGISTRY_WORDS = frozenset("deletion deletions erasure erasures forget forgotten rtbf dsar gdpr delete deleted "
                            "removal removals anonymization".split())
_GRANTED = ("granted", "consent_given", "consented", "opted_in", "opt_in", "is_granted", "given", "agreed",
            "accepted", "allowed", "consent")
_RECORDED = ("recorded_at", "decided_at", "consented_at", "created_at", "updated_at", "occurred_at", "event_ts",
             "timestamp", "ts", "changed_at", "recorded_on", "date")
_REQUESTED = ("requested_at", "request_date", "requested_on", "received_at", "submitted_at", "created_at",
              "request_ts", "requested")
_REQUEST_ID = ("request_id", "ticket_id", "case_id", "id")
_SINGULAR_NOUNS = frozenset(w[:-1] if w.endswith("s") and w[:-1] in SUBJECT_NOUNS else w for w in SUBJECT_NOUNS)


def singular(word: str) -> str:
    """A plural noun's singular, well enough for table names (`kunden` -> `kunde`)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("en") and word[:-1] in SUBJECT_NOUNS:
        return word[:-1]
    return word


def table_words(name: str) -> list[str]:
    words = tokens(name)
    while len(words) > 1 and words[0] in PREFIXES:
        words = words[1:]
    return words


def nouns(ref: TableRef) -> list[str]:
    """The singular names a foreign key to this table could carry: `invoice_line`, `line`, `invoice`."""
    found: list[str] = []
    for name in dict.fromkeys([ref.policy_name or ref.name, ref.name]):
        words = table_words(name)
        if not words:
            continue
        last = singular(words[-1])
        for noun in ("_".join([*words[:-1], last]), last, words[0] if len(words) > 1 else last):
            if noun not in found:
                found.append(noun)
    return found


@dataclass(frozen=True)
class Link:
    """How a table reaches its subject: its own column (`via` None), or `via` a parent's key."""

    column: str
    why: str
    via: TableRef | None = None
    key: str | None = None


@dataclass(frozen=True)
class ConsentLog:
    table: TableRef
    subject: str
    purpose: str
    granted: str
    recorded_at: str


@dataclass(frozen=True)
class Registry:
    table: TableRef
    subject: str
    requested_at: str
    request_id: str | None


@dataclass
class Subjects:
    """The subject of a set of tables, and each table's key and link to it."""

    table: TableRef | None = None
    key: str | None = None
    key_type: str | None = None
    noun: str = "subject"
    why: str = ""
    keys: dict[str, str] = field(default_factory=dict)           # table key -> its own key column
    links: dict[str, Link] = field(default_factory=dict)         # table key -> how it reaches the subject
    consent: ConsentLog | None = None
    registry: Registry | None = None
    # other tables of persons (not the subject): table key -> (its key, why); a person's id is pseudonymous
    people: dict[str, tuple[str, str]] = field(default_factory=dict)
    person_ids: dict[str, dict[str, str]] = field(default_factory=dict)     # table key -> column -> why

    @property
    def subject_column(self) -> str:
        """The name the subject's id goes by in a consent log or registry veil scaffolds."""
        if self.key and self.key.lower() != "id" and self.key.lower().endswith("_id"):
            return self.key
        return f"{self.noun}_id"

    def infrastructure(self) -> set[str]:
        """Keys of the consent log and the registry: they configure veil.yml, not a policy."""
        return {x.table.key for x in (self.consent, self.registry) if x is not None}


def _kind(sample: TableSample, column: str) -> str:
    found = sample.column(column)
    return kind_of(found.type) if found is not None and found.type else ""


def _compatible(a: str, b: str) -> bool:
    return not a or not b or a == b or {a, b} <= {"integer", "decimal"}


def key_of(sample: TableSample, unique: set[tuple[str, str]]) -> str | None:
    """The table's own key: a `unique`-tested or unique-in-sample column named for it."""
    ref = sample.ref
    candidates = ["id"]
    for noun in nouns(ref):
        candidates += [f"{noun}_id", f"{noun}id", f"{noun}_key", f"{noun}_uuid", f"{noun}_nr", f"{noun}_number"]
    candidates += ["uuid", "key"]
    by_name = {c.name.lower(): c for c in sample.columns}
    tested = [c.name for c in sample.columns if ref.relation and (ref.relation, c.name.lower()) in unique]
    for name in tested:
        if name.lower() in candidates or name.lower().endswith(("_id", "_key")):
            return name
    for name in candidates:
        column = by_name.get(name)
        if column is not None and (column.unique or not column.values) and kind_of(column.type or "VARCHAR") in {
                "integer", "text", "decimal", "other"}:
            return column.name
    return tested[0] if tested else None


class _Finder:
    def __init__(self, samples: list[TableSample], direct_pii: dict[str, int], project: ProjectTables | None,
                 sampler: Sampler | None):
        self.samples = {s.ref.key: s for s in samples}
        self.direct = direct_pii
        self.unique = project.unique if project else set()
        self.relationships = project.relationships if project else []
        self.sampler = sampler
        self.subjects = Subjects()
        for sample in samples:
            key = key_of(sample, self.unique)
            if key:
                self.subjects.keys[sample.ref.key] = key
        self._inclusion: dict[tuple, float | None] = {}

    def inclusion(self, child: TableSample, column: str, parent: TableSample, key: str) -> float | None:
        cache = (child.ref.key, column, parent.ref.key, key)
        if cache not in self._inclusion:
            self._inclusion[cache] = (self.sampler.inclusion(child.ref, column, parent.ref, key)
                                      if self.sampler and child.rows and parent.rows else None)
        return self._inclusion[cache]

    def _tested(self, child: TableSample, parent: TableSample, key: str) -> str | None:
        for rel in self.relationships:
            if (rel.child == child.ref.relation and rel.parent == parent.ref.relation
                    and rel.key.lower() == key.lower() and child.column(rel.column) is not None):
                return child.column(rel.column).name
        return None

    def _named(self, child: TableSample, parent: TableSample, key: str, names: list[str],
               exact: set[str]) -> tuple[str, str] | None:
        """(column, why) of the first column named like a foreign key to parent.key whose values agree."""
        key_kind = _kind(parent, key)
        for name in names:
            column = child.column(name)
            if column is None or (child is parent and column.name.lower() == key.lower()):
                continue
            if not _compatible(_kind(child, column.name), key_kind):
                continue
            share = self.inclusion(child, column.name, parent, key)
            if share is None:
                if name in exact:
                    return column.name, f"named for {parent.ref.key}.{key} (no values to compare)"
                continue
            if share >= 0.9:
                return column.name, f"named for {parent.ref.key}.{key}; {share:.0%} of its sampled values are keys there"
        return None

    # -- the subject table

    def find_subject(self) -> None:
        best = None
        people = []
        for sample in self.samples.values():
            key = self.subjects.keys.get(sample.ref.key)
            direct = self.direct.get(sample.ref.key, 0)
            if key is None or direct == 0:
                continue
            words = table_words(sample.ref.policy_name or sample.ref.name)
            named = any(singular(w) in _SINGULAR_NOUNS or w in SUBJECT_NOUNS for w in words)
            keyed = any(singular(w) in _SINGULAR_NOUNS for w in tokens(key)[:-1])
            score = direct + (3 if named else 0) + (2 if keyed else 0)
            if direct >= 3 or (direct >= 2 and (named or keyed)):
                people.append((sample, key, direct))
            if best is None or score > best[0]:
                best = (score, sample, key, named, keyed)
        if best is None:
            return
        _, sample, key, named, keyed = best
        self._people = [(other, k, d) for other, k, d in people if other is not sample]
        s = self.subjects
        s.table, s.key = sample.ref, key
        column = sample.column(key)
        s.key_type = column.type if column is not None else None
        key_words = tokens(key)
        if keyed:
            s.noun = singular("_".join(key_words[:-1]))
        else:
            words = table_words(sample.ref.policy_name or sample.ref.name)
            s.noun = singular(words[-1]) if words else "subject"
        tested = (sample.ref.relation, key.lower()) in self.unique
        s.why = (f"{self.direct[sample.ref.key]} direct-PII columns, key {key}"
                 f" ({'dbt unique test' if tested else 'unique in the sample' if sample.rows else 'by name'})")

    def _subject_names(self) -> tuple[list[str], set[str]]:
        s = self.subjects
        exact = {s.key.lower()} if s.key and s.key.lower() != "id" else set()
        own = [f"{n}_id" for n in nouns(s.table)] + [f"{s.noun}_id"]
        exact |= set(own)
        generic = [f"{n}_id" for n in sorted(_SINGULAR_NOUNS)] + ["subject_id", "data_subject_id"]
        generic += [f"{n}id" for n in sorted(_SINGULAR_NOUNS)]
        names = list(dict.fromkeys([*sorted(exact), *own, *generic]))
        return names, exact

    def subject_column(self, sample: TableSample, lenient: bool = False) -> Link | None:
        s = self.subjects
        parent = self.samples[s.table.key]
        tested = self._tested(sample, parent, s.key)
        if tested:
            return Link(tested, f"dbt relationships test to {s.table.key}.{s.key}")
        names, exact = self._subject_names()
        found = self._named(sample, parent, s.key, names, exact if not lenient else set(names))
        return Link(*found) if found else None

    # -- links

    def link_people(self) -> None:
        """Other tables of persons (not linked to the subject), and the columns holding their ids."""
        for other, other_key, direct in getattr(self, "_people", []):
            if other.ref.key not in self.subjects.links:
                self.subjects.people[other.ref.key] = (other_key, f"{direct} direct-PII columns")
        for table_key, (key, _) in self.subjects.people.items():
            parent = self.samples[table_key]
            names = [key.lower()] if key.lower() != "id" else []
            names = list(dict.fromkeys([*names, *(f"{n}_id" for n in nouns(parent.ref))]))
            for sample in self.samples.values():
                if sample is parent or sample.ref.key in self.subjects.infrastructure():
                    continue
                found = self._named(sample, parent, key, names, set(names))
                if found:
                    self.subjects.person_ids.setdefault(sample.ref.key, {})[found[0].lower()] = found[1]

    def link_all(self) -> None:
        s = self.subjects
        if s.table is None:
            return
        s.links[s.table.key] = Link(s.key, f"the subject table: {s.why}")
        for sample in self.samples.values():
            if sample.ref.key in s.links or sample.ref.key in s.infrastructure():
                continue
            link = self.subject_column(sample)
            if link:
                s.links[sample.ref.key] = link
        changed = True
        while changed:
            changed = False
            for sample in self.samples.values():
                if sample.ref.key in s.links or sample.ref.key in s.infrastructure():
                    continue
                link = self._via(sample)
                if link:
                    s.links[sample.ref.key] = link
                    changed = True

    def _via(self, sample: TableSample) -> Link | None:
        s = self.subjects
        parents = [self.samples[k] for k in s.links if k != sample.ref.key and self.subjects.keys.get(k)]
        for rel in self.relationships:
            if rel.child != sample.ref.relation:
                continue
            for parent in parents:
                if rel.parent == parent.ref.relation and sample.column(rel.column) is not None:
                    return Link(sample.column(rel.column).name, f"dbt relationships test to {parent.ref.key}.{rel.key}",
                                parent.ref, rel.key)
        for parent in parents:
            key = self.subjects.keys[parent.ref.key]
            names = [key.lower()] if key.lower() != "id" else []
            names += [f"{n}_id" for n in nouns(parent.ref)]
            found = self._named(sample, parent, key, list(dict.fromkeys(names)), set(names))
            if found:
                return Link(found[0], found[1], parent.ref, key)
        return None

    # -- consent log and registry

    def find_infrastructure(self) -> None:
        s = self.subjects
        if s.table is None:
            return
        for sample in self.samples.values():
            if sample.ref.key == s.table.key:
                continue
            words = set(table_words(sample.ref.policy_name or sample.ref.name)) | set(tokens(sample.ref.name))
            columns = {c.name.lower(): c.name for c in sample.columns}
            if s.consent is None:
                purpose = next((c.name for c in sample.columns if "purpose" in tokens(c.name)
                                or c.name.lower() in {"consent_type", "scope"}), None)
                granted = next((columns[g] for g in _GRANTED if g in columns), None)
                recorded = self._time(sample, _RECORDED)
                if purpose and granted and recorded:
                    link = self.subject_column(sample, lenient=True)
                    if link:
                        s.consent = ConsentLog(sample.ref, link.column, purpose, granted, recorded)
                        continue
            if s.registry is None and words & _REGISTRY_WORDS:
                requested = self._time(sample, _REQUESTED)
                link = self.subject_column(sample, lenient=True)
                if requested and link:
                    request_id = next((columns[r] for r in _REQUEST_ID if r in columns and columns[r] != link.column),
                                      None)
                    s.registry = Registry(sample.ref, link.column, requested, request_id)

    @staticmethod
    def _time(sample: TableSample, names: tuple[str, ...]) -> str | None:
        columns = {c.name.lower(): c for c in sample.columns}
        for name in names:
            if name in columns:
                return columns[name].name
        temporal = [c.name for c in sample.columns if kind_of(c.type or "") in {"date", "timestamp"}]
        return temporal[0] if temporal else None


def find_subjects(samples: list[TableSample], direct_pii: dict[str, int], project: ProjectTables | None = None,
                  sampler: Sampler | None = None) -> Subjects:
    """The subject, each table's key and link, the consent log and the registry.

    `direct_pii`: table key -> how many DIRECT_PII columns it has.
    """
    finder = _Finder(samples, direct_pii, project, sampler)
    finder.find_subject()
    finder.find_infrastructure()
    finder.link_all()
    finder.link_people()
    return finder.subjects
