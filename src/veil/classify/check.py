"""`veil classify --check`: the policies still describe the data (for CI).

For every policy table, its relation is sampled and two things fail the
check (exit 1), one message per column:

- a column of the table that its policy does not list (it reaches no
  audience model, but nobody decided that: every column gets a classification);
- a column whose sampled values contradict its declared classification: a
  validator finds a category stricter than declared (a NON_PII column whose
  values are email addresses). Only value evidence counts here, never a name,
  and only confident detections (weak ones, such as a set of dates plausible
  as birth dates, do not fail a build).

>>> print(Finding("policies/tables/users.yml", "users", "notes", "contradiction", "declared NON_PII but ..."))
policies/tables/users.yml: users.notes: declared NON_PII but ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veil.classify.categories import STRICTNESS, classification_of
from veil.classify.discover import discover
from veil.classify.run import classify_table, project_warehouse
from veil.classify.sample import DEFAULT_SAMPLE, Sampler, TableRef
from veil.classify.values import analyse
from veil.errors import UsageError
from veil.policy.load import load_policies
from veil.relations import PhysicalRelations

#: A value detection must be at least this confident to contradict a declared classification.
CONTRADICTION_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Finding:
    policy: str
    table: str
    column: str
    problem: str          # missing or contradiction
    message: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.table}.{self.column}: {self.message}"

    def as_json(self) -> dict:
        return {"policy": self.policy, "table": self.table, "column": self.column, "problem": self.problem,
                "message": self.message}


@dataclass
class CheckReport:
    findings: list[Finding]
    tables: int
    notes: list[str]


def _refs(project_dir: Path, policies) -> dict[str, TableRef]:
    """Policy table -> where its relation lives (and its seed file, for a seed)."""
    from veil.project import Project

    manifest = Project.load(project_dir).manifest
    index = PhysicalRelations.from_manifest(manifest).index if manifest else {}
    seeds = {t.relation: t for t in discover(manifest, project_dir).tables} if manifest else {}
    refs = {}
    for table in policies.table_list():
        relation = str(table.relation)
        if relation in seeds:
            seed = seeds[relation]
            refs[table.name] = TableRef(seed.schema, seed.name, relation, table.name, seed.kind, seed.csv,
                                        seed.column_types, (), seed.delimiter)
            continue
        schema, name = index.get(relation) or (
            table.relation.args if table.relation.kind == "source" else ("", table.relation.name))
        refs[table.name] = TableRef(schema, name, relation, table.name)
    return refs


def check_project(project_dir: str | Path, database: Path | None = None, rows: int = DEFAULT_SAMPLE) -> CheckReport:
    """Every finding of every policy table; UsageError when a relation cannot be read."""
    project_dir = Path(project_dir)
    policies = load_policies(project_dir)
    if not policies.tables:
        raise UsageError(f"no policies in {project_dir / 'policies' / 'tables'}: nothing to check "
                         "(`veil init` drafts them)")
    refs = _refs(project_dir, policies)
    path, why = project_warehouse(project_dir, database)
    if path is None and database is None and not all(r.csv for r in refs.values()):
        raise UsageError(f"{why}; `veil classify --check` samples the policy tables: run `dbt build` first "
                         "or pass --database FILE")
    findings: list[Finding] = []
    notes: list[str] = []
    unreadable = []
    with Sampler(path) as sampler:
        for table in policies.table_list():
            ref = refs[table.name]
            if not ref.schema:
                candidates = [r for r in sampler.warehouse_tables() if r.name.lower() == ref.name.lower()]
                if candidates:
                    ref = TableRef(candidates[0].schema, candidates[0].name, ref.relation, table.name)
            sample = sampler.sample(ref, rows)
            if sample.origin == "names":
                unreadable.append(f"{table.path}: {ref.relation} is not in the warehouse"
                                  + (f" (looked for {ref.key})" if ref.schema else ""))
                continue
            verdicts = {v.column.lower(): v for v in classify_table(sample)}
            for column in sample.columns:
                declared = table.policy.column(column.name)
                verdict = verdicts[column.name.lower()]
                if declared is None:
                    findings.append(Finding(
                        table.path, table.name, column.name, "missing",
                        f"column of {ref.key} missing from the policy (drafted: {verdict.classification.value} "
                        f"{verdict.category}, {verdict.confidence:.2f}: {verdict.evidence}); add it with its "
                        "classification (`veil init --update` drafts it)"))
                    continue
                found = analyse(column).detected
                if found is None or found.confidence < CONTRADICTION_CONFIDENCE:
                    continue
                strict = classification_of(found.category)
                if STRICTNESS[strict] > STRICTNESS[declared.classification]:
                    shown = declared.pii_classification.value if declared.pii_classification else "unclassified"
                    findings.append(Finding(
                        table.path, table.name, column.name, "contradiction",
                        f"declared {shown} but its sampled values are {strict.value} ({found.category}): {found.how}"))
            present = {c.name.lower() for c in sample.columns}
            for column in table.policy.columns:
                if column.name.lower() not in present:
                    notes.append(f"{table.path}: {table.name}.{column.name} is in the policy but not in {ref.key}")
    if unreadable:
        raise UsageError("cannot check, the warehouse does not hold these policy tables (run `dbt build` first, "
                         "or pass --database FILE):\n  " + "\n  ".join(unreadable))
    if why and path is None:
        notes.append(f"{why}: seeds were read from their CSV files")
    return CheckReport(findings, len(policies.tables), notes)
