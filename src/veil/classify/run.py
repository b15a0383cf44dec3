"""Classify sampled tables: every column from its name and values, then the subject and its keys across tables.

>>> from veil.classify.values import ColumnSample
>>> from veil.classify.sample import TableRef, TableSample
>>> customers = TableSample(TableRef("main", "customers"), [
...     ColumnSample("id", "BIGINT", [1, 2, 3], 3, 3),
...     ColumnSample("eml", "VARCHAR", ["ann@x.org", "bo@y.org", "cy@z.org"], 3, 3),
...     ColumnSample("phone_verified", "BOOLEAN", [True, False], 3, 2)], 3, "warehouse")
>>> result = classify_samples([customers])
>>> [(c.column, c.classification.value, c.category) for c in result.tables[0].columns]
[('id', 'PSEUDONYMOUS', 'subject_key'), ('eml', 'DIRECT_PII', 'email'), ('phone_verified', 'NON_PII', 'other')]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from veil.classify.categories import CATEGORIES, classification_of
from veil.classify.decide import decide
from veil.classify.discover import ProjectTables, discover
from veil.classify.names import match_name
from veil.classify.sample import DEFAULT_SAMPLE, Sampler, TableRef, TableSample
from veil.classify.subjects import Link, Subjects, find_subjects
from veil.classify.values import analyse
from veil.errors import UsageError
from veil.policy.models import Classification


@dataclass(frozen=True)
class ColumnVerdict:
    """One column's drafted classification and why."""

    table: str
    column: str
    type: str
    classification: Classification
    category: str
    confidence: float
    evidence: str

    def as_json(self) -> dict:
        return {"table": self.table, "column": self.column, "classification": self.classification.value,
                "category": self.category, "confidence": self.confidence, "evidence": self.evidence}


@dataclass
class TableResult:
    sample: TableSample
    columns: list[ColumnVerdict]

    @property
    def ref(self) -> TableRef:
        return self.sample.ref


@dataclass
class Classified:
    """Every table's verdicts, the subject found across them, and notes for the user."""

    tables: list[TableResult]
    subjects: Subjects
    notes: list[str] = field(default_factory=list)

    def columns(self) -> list[ColumnVerdict]:
        return [c for t in self.tables for c in t.columns]


def classify_table(sample: TableSample) -> list[ColumnVerdict]:
    """Name and values of each column, decided one column at a time."""
    verdicts = []
    table_name = sample.ref.policy_name or sample.ref.name
    for column in sample.columns:
        category, confidence, evidence = decide(match_name(column.name, table_name), analyse(column))
        verdicts.append(ColumnVerdict(sample.ref.key, column.name, column.type, classification_of(category), category,
                                      confidence, evidence))
    return verdicts


_REKEYABLE = {"other", "record_key", "subject_key", "hashed_id"}


def _relabel(verdict: ColumnVerdict, category: str, confidence: float, evidence: str) -> ColumnVerdict:
    if verdict.category not in _REKEYABLE:
        return verdict
    return replace(verdict, category=category, classification=classification_of(category),
                   confidence=confidence, evidence=evidence)


def classify_samples(samples: list[TableSample], project: ProjectTables | None = None,
                     sampler: Sampler | None = None) -> Classified:
    """Classify every table, then find the subject and relabel keys with what they are across tables."""
    results = [TableResult(s, classify_table(s)) for s in samples]
    direct = {r.ref.key: sum(c.classification is Classification.DIRECT_PII and c.category != "free_text"
                             for c in r.columns) for r in results}
    subjects = find_subjects(samples, direct, project, sampler)
    infrastructure = {x.table.key: (x.subject, kind) for x, kind in ((subjects.consent, "consent log"),
                                                                      (subjects.registry, "deletion registry"))
                      if x is not None}
    for result in results:
        key = result.ref.key
        own_key = subjects.keys.get(key)
        link = subjects.links.get(key)
        if key in infrastructure:
            column, kind = infrastructure[key]
            link = Link(column, f"the subject of the {kind}")
        relabelled = []
        for verdict in result.columns:
            name = verdict.column.lower()
            if subjects.table is not None and key == subjects.table.key and name == subjects.key.lower():
                verdict = _relabel(verdict, "subject_key", 0.95, f"the subject key: {subjects.why}")
            elif link is not None and link.via is None and name == link.column.lower():
                verdict = _relabel(verdict, "subject_key", 0.92,
                                   f"holds the subject's id ({subjects.table.key}.{subjects.key}): {link.why}")
            elif link is not None and link.via is not None and name == link.column.lower():
                verdict = _relabel(verdict, "record_key", 0.85,
                                   f"foreign key to {link.via.key}.{link.key}, through which rows reach the subject: "
                                   f"{link.why}")
            elif key in subjects.people and name == subjects.people[key][0].lower():
                verdict = _relabel(verdict, "subject_key", 0.85,
                                   f"key of {key}, a table of persons ({subjects.people[key][1]}), not the subject's")
            elif name in subjects.person_ids.get(key, {}) and (link is None or name != link.column.lower()):
                verdict = _relabel(verdict, "subject_key", 0.8,
                                   f"holds a person's id: {subjects.person_ids[key][name]}")
            elif own_key is not None and name == own_key.lower() and (
                    verdict.category in {"other", "record_key"} or CATEGORIES[verdict.category].attribute):
                verdict = replace(verdict, category="other", classification=classification_of("other"))
                verdict = _relabel(verdict, "record_key", 0.85, f"key of {key} (not a person)")
            relabelled.append(verdict)
        result.columns = relabelled
    return Classified(results, subjects)


def sample_all(sampler: Sampler, refs: list[TableRef], rows: int) -> list[TableSample]:
    return [sampler.sample(ref, rows) for ref in refs]


def sample_and_classify(sampler: Sampler, refs: list[TableRef], rows: int, project: ProjectTables | None = None
                        ) -> Classified:
    """Sample every table, then classify them together."""
    return classify_samples(sample_all(sampler, refs, rows), project, sampler)


def classify_warehouse(database: Path, schema: str | None = None, rows: int = DEFAULT_SAMPLE) -> Classified:
    """Every table of a DuckDB file (or of one schema)."""
    with Sampler(Path(database)) as sampler:
        refs = sampler.warehouse_tables(schema)
        if not refs:
            where = f"schema {schema!r} of {database}" if schema else str(database)
            raise UsageError(f"no tables in {where}")
        return sample_and_classify(sampler, refs, rows)


def project_tables(project_dir: Path) -> ProjectTables:
    """The sources and seeds of a dbt project's manifest; UsageError when there is no manifest."""
    from veil.project import Project

    project = Project.load(project_dir)
    if not (project.root / "dbt_project.yml").is_file():
        raise UsageError(f"{project_dir}: no dbt_project.yml here; pass --project-dir DIR of a dbt project, "
                         "or --database FILE to classify a warehouse")
    manifest = project.manifest
    if manifest is None:
        raise UsageError(f"no dbt manifest at {project.target_dir / 'manifest.json'}: run `dbt parse` first "
                         "(or pass --database FILE to classify a warehouse)")
    return discover(manifest, project.root)


def project_warehouse(project_dir: Path, database: Path | None) -> tuple[Path | None, str | None]:
    """(the warehouse file, None) or (None, why it cannot be read): `--database`, else the dbt target's path."""
    from veil.project import Project

    if database is not None:
        return Path(database), None
    try:
        path = Project.load(project_dir).database
    except UsageError as exc:
        return None, str(exc)
    if not path.is_file():
        return None, f"warehouse {path} not found"
    return path, None


def classify_project(project_dir: Path, database: Path | None = None, rows: int = DEFAULT_SAMPLE,
                     schema: str | None = None) -> Classified:
    """The sources and seeds of a dbt project, sampled from its warehouse (seeds: from their CSV files)."""
    found = project_tables(Path(project_dir))
    refs = [t for t in found.tables if schema is None or t.schema.lower() == schema.lower()]
    if not refs:
        raise UsageError(f"the manifest of {project_dir} lists no sources or seeds"
                         + (f" in schema {schema!r}" if schema else ""))
    path, why = project_warehouse(Path(project_dir), database)
    with Sampler(path) as sampler:
        result = sample_and_classify(sampler, refs, rows, found)
        samples = [t.sample for t in result.tables]
    if why:
        result.notes.append(f"{why}: seeds were read from their CSV files, sources classified by name only")
    for sample in samples:
        if sample.origin == "names":
            result.notes.append(f"{sample.ref.label}: not in the warehouse; classified from its declared column "
                                "names only")
    return result
