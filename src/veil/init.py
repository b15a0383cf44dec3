"""`veil init`: draft every policy of a dbt project from the project itself.

The tables come from the dbt manifest (`dbt parse` writes it: every source
and seed, with their `unique` and `relationships` tests); without one, from
the seed files and, with `--database`, the warehouse's tables. Each table is
sampled (the warehouse, else a seed's CSV file), every column classified
(`veil.classify`), and `veil init` writes:

- `policies/tables/<table>.yml` per table: every column with its drafted
  classification, a comment saying why, the subject key or the `via` path to
  it, and default handling for the audiences below. Existing policies are
  never overwritten; `--update` appends the columns they lack, marked as
  unreviewed drafts, and drafts policies for new tables;
- `policies/veil.yml`: purposes `analytics` (opt-out) and `customer_support`
  (contract basis), audiences `analyst` and `support`, and the consent log and
  deletion registry: the project's own when it has them (recognised by their
  columns), else two seeds it scaffolds, typed by `column_types` like the
  subject key so that an empty registry is not typed INTEGER by the CSV
  sniffer;
- `.veil/` in `.gitignore` (the keyring, master key, vault and audit trail).

The consent log, the registry and veil's own models get no table policy.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "dbt_project.yml").write_text("name: shop\\nprofile: shop\\n")
>>> (root / "seeds").mkdir()
>>> _ = (root / "seeds" / "customers.csv").write_text("id,email,phone\\n1,ann@x.org,+1-202-555-0111\\n"
...                                                    "2,bo@y.org,+1-202-555-0122\\n")
>>> report = init_project(root)
>>> sorted(str(p.relative_to(root)) for p in report.created)[:3]
['.gitignore', 'policies/tables/customers.yml', 'policies/veil.yml']
>>> print((root / "policies/tables/customers.yml").read_text().split("schema:")[0].splitlines()[-1])
subject: id                            # the subject table: 2 direct-PII columns, key id (unique in the sample)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from veil.classify.discover import ProjectTables, discover
from veil.classify.draft import (
    column_lines,
    policy_name,
    policy_type,
    render_policy,
    render_project,
)
from veil.classify.run import (
    Classified,
    TableResult,
    project_warehouse,
    sample_and_classify,
)
from veil.classify.sample import DEFAULT_SAMPLE, Sampler, TableRef
from veil.classify.subjects import Subjects
from veil.compile.write import write_atomic
from veil.errors import UsageError, VeilError
from veil.policy.names import identifier_problem
from veil.policy.relation import parse_relation

PLUGIN_LINE = "plugins: [{module: veil.dbt_duckdb}]"
CONSENT_SEED, REGISTRY_SEED, SEEDS_YML = "veil_consent_log", "veil_deletion_requests", "_veil_seeds.yml"
UNREVIEWED = "unreviewed draft (veil init --update): "
_IGNORE = "\n# veil's state: master key, keyring, token vault, audit trail (never commit it)\n.veil/\n"

NEXT_STEPS = f"""\
Next steps:
  1. In profiles.yml, under your DuckDB target, add this one line:
       {PLUGIN_LINE}
     It registers veil's keyed masking functions on every dbt connection.
  2. `veil keys init` writes a development keyring to .veil/ (git-ignored);
     or set VEIL_KEY (64 hex chars) for builds that use keyed strategies.
  3. Review policies/tables/*.yml: each column says why it got its classification.
  4. veil compile && dbt build; in CI, `veil classify --check` after dbt build."""


def _template(name: str) -> str:
    return resources.files("veil.templates").joinpath(name).read_text(encoding="utf-8")


@dataclass
class InitReport:
    """What `veil init` wrote and found."""

    root: Path
    update: bool = False
    created: list[Path] = field(default_factory=list)
    updated: list[tuple[Path, list[str]]] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _show(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def render(self) -> str:
        lines = [f"created {self._show(p)}" for p in self.created]
        lines += [f"updated {self._show(p)}: {len(cols)} new column{'s' if len(cols) > 1 else ''} as unreviewed "
                  f"drafts ({', '.join(cols)})"
                  for p, cols in self.updated]
        why = "no new columns" if self.update else "exists; `veil init --update` adds new columns"
        lines += [f"kept {self._show(p)} ({why})" for p in self.kept]
        lines += self.found
        lines += [f"note: {n}" for n in self.notes]
        lines.append(NEXT_STEPS)
        return "\n".join(lines)


# -- what to draft from

def _seed_paths(root: Path, settings: dict[str, Any]) -> list[Path]:
    return [root / str(p) for p in (settings.get("seed-paths") or ["seeds"])]


def _column_types(config: Any, seed: str) -> dict[str, str]:
    """`+column_types` of a seed anywhere under `seeds:` in dbt_project.yml."""
    if not isinstance(config, dict):
        return {}
    for key, value in config.items():
        if key == seed and isinstance(value, dict):
            types = value.get("+column_types") or value.get("column_types")
            if isinstance(types, dict):
                return {str(k): str(v) for k, v in types.items()}
        found = _column_types(value, seed)
        if found:
            return found
    return {}


def _files_tables(root: Path, settings: dict[str, Any], schema: str) -> list[TableRef]:
    """The project's seed files (without a manifest)."""
    refs = []
    for folder in _seed_paths(root, settings):
        for path in sorted(folder.rglob("*.csv")) if folder.is_dir() else []:
            name = path.stem
            refs.append(TableRef(schema, name, f"ref('{name}')", name, "seed", path,
                                 _column_types(settings.get("seeds"), name)))
    return refs


def _tables(root: Path, database: Path | None, report: InitReport) -> tuple[ProjectTables, str]:
    from veil.project import Project

    project = Project.load(root)
    settings = project.dbt_project
    manifest = project.manifest
    if manifest is not None:
        return discover(manifest, root), "target/manifest.json"
    try:
        schema = str(project.target.get("schema") or "main")
    except VeilError:
        schema = "main"
    refs = _files_tables(root, settings, schema)
    origin = "the seed files"
    if database is not None:
        with Sampler(database) as sampler:
            seeds = {r.name.lower() for r in refs}
            tables = [t for t in sampler.warehouse_tables() if t.name.lower() not in seeds]
        built = [t for t in tables if _built(t.name)]
        extra = [TableRef(t.schema, t.name, f"source('{t.schema}', '{t.name}')", t.name, "source")
                 for t in tables if not _built(t.name)]
        if built:
            report.notes.append(f"no dbt manifest: left out {len(built)} tables named like dbt or veil models "
                                f"({', '.join(t.key for t in built[:5])}{', ...' if len(built) > 5 else ''})")
        if extra:
            report.notes.append(
                f"no dbt manifest: {len(extra)} tables of {database} drafted as sources named after their schema "
                "(source('<schema>', '<table>')); declare them in a sources .yml, or run `dbt parse` and "
                "`veil init --update`")
        refs += extra
        origin = f"{database}" + (" and the seed files" if refs and len(extra) < len(refs) else "")
    else:
        report.notes.append("no dbt manifest (target/manifest.json): only seed files were drafted; run `dbt parse`, "
                            "then `veil init --update` to draft the sources")
    return ProjectTables(refs), origin


def _built(name: str) -> bool:
    """Named like a model dbt or veil builds (`stg_raw__users`, `analyst__users`, `veil_consent_current`)."""
    return "__" in name or name.lower().startswith("veil_")


# -- existing policies

def _existing(policy_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """relation -> (file, document) of every table policy already written."""
    found = {}
    for path in sorted([*policy_dir.glob("*.yml"), *policy_dir.glob("*.yaml")]):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        try:
            relation = str(parse_relation(doc.get("relation") or f"ref('{doc.get('table')}')"))
        except ValueError:
            continue
        found[relation] = (path, doc)
    return found


_LIST_KEY = re.compile(r"^(schema|columns)\s*:\s*(#.*)?$")
_TOP_KEY = re.compile(r"^[A-Za-z_\"'][^:#]*:")


def append_columns(text: str, entries: list[str]) -> str | None:
    """The policy text with `entries` (YAML lines of list items) appended to its `schema:` list, or None.

    >>> print(append_columns("table: t\\nschema:\\n  - name: a\\n# tail\\nsubject: a\\n", ["  - name: b"]))
    table: t
    schema:
      - name: a
      - name: b
    # tail
    subject: a
    <BLANKLINE>
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _LIST_KEY.match(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    item = next((line for line in lines[start + 1:end] if line.lstrip().startswith("- ")), None)
    if item is None:
        return None
    indent = item[:len(item) - len(item.lstrip())]
    shifted = [indent + line[2:] if line.startswith("  ") else line for line in entries]
    return "\n".join([*lines[:end], *shifted, *lines[end:]]) + "\n"


def _update(path: Path, doc: dict[str, Any], result: TableResult, purposes: set[str]) -> list[str] | None:
    """Append the table's new columns to an existing policy; the names added (None: could not)."""
    listed = doc.get("schema") if "schema" in doc else doc.get("columns")
    known = {str(c.get("name", "")).lower() for c in listed or [] if isinstance(c, dict)}
    new = [v for v in result.columns if v.column.lower() not in known]
    if not new:
        return []
    entries = [line for verdict in new for line in column_lines(verdict, purposes, UNREVIEWED)]
    text = append_columns(path.read_text(encoding="utf-8"), entries)
    if text is None:
        return None
    check = yaml.safe_load(text)
    after = check.get("schema") if "schema" in check else check.get("columns")
    valid = sum(1 for v in new if identifier_problem(v.column) is None)
    if not isinstance(after, list) or len(after) != len(listed or []) + valid:
        return None
    write_atomic(path, text)
    return [v.column for v in new]


# -- veil.yml, scaffolds, .gitignore

def _seed_type(sql_type: str | None) -> str:
    kind = policy_type(sql_type or "")
    return {"STRING": "varchar", "INTEGER": "integer", "BIGINT": "bigint", "DECIMAL": "decimal(38, 0)",
            "DOUBLE": "double", "DATE": "date", "TIMESTAMP": "timestamp"}.get(kind or "", "bigint")


def _scaffold(root: Path, settings: dict[str, Any], subjects: Subjects, report: InitReport,
              need_consent: bool, need_registry: bool) -> bool:
    """Write the missing consent log and registry seeds, typed; False when one of their files exists."""
    folder = _seed_paths(root, settings)[0]
    column = subjects.subject_column
    key_type = _seed_type(subjects.key_type)
    files = {}
    entries = []
    if need_consent:
        files[folder / f"{CONSENT_SEED}.csv"] = f"{column},purpose,granted,recorded_at\n"
        entries.append(f"  - name: {CONSENT_SEED}\n"
                       "    description: \"veil's consent log: one row per decision (latest wins). Scaffolded by "
                       "veil init; replace it with your consent platform's export when you have one.\"\n"
                       "    config:\n"
                       f"      column_types: {{{column}: {key_type}, purpose: varchar, granted: boolean, "
                       "recorded_at: timestamp}\n")
    if need_registry:
        files[folder / f"{REGISTRY_SEED}.csv"] = f"request_id,{column},requested_at\n"
        entries.append(f"  - name: {REGISTRY_SEED}\n"
                       "    description: \"veil's deletion registry: subjects who asked to be forgotten. Scaffolded "
                       "by veil init; append a row per request, then dbt seed && veil erase.\"\n"
                       "    config:                       # typed: an empty registry must still compare with the "
                       "subject key\n"
                       f"      column_types: {{request_id: varchar, {column}: {key_type}, requested_at: timestamp}}\n")
    yml = folder / SEEDS_YML
    if yml.exists() or any(path.exists() for path in files):
        report.notes.append(f"{yml} or a scaffold seed exists already: the consent log and deletion registry were "
                            "not scaffolded again; check `consent:` and `erasure:` in policies/veil.yml")
        return False
    for path, text in files.items():
        write_atomic(path, text)
        report.created.append(path)
    write_atomic(yml, "# Seeds scaffolded by `veil init`: typed with column_types like the subject key "
                      f"({subjects.table.key}.{subjects.key}: {key_type}),\n# so that an empty file is not typed "
                      "INTEGER by the CSV sniffer and still compares with the subject key.\nversion: 2\n\nseeds:\n"
                 + "".join(entries))
    report.created.append(yml)
    return True


def _gitignore(root: Path, report: InitReport) -> None:
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if any(line.strip().strip("/") == ".veil" for line in text.splitlines()):
        return
    write_atomic(path, text + ("" if not text or text.endswith("\n") else "\n") + (_IGNORE if text else _IGNORE[1:]))
    if text:
        report.found.append("added .veil/ to .gitignore")
    else:
        report.created.append(path)


def _purposes(veil_yml: Path) -> set[str]:
    if not veil_yml.is_file():
        return {"analytics", "customer_support"}
    try:
        doc = yaml.safe_load(veil_yml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return set()
    purposes = doc.get("purposes") if isinstance(doc, dict) else None
    return set(purposes) if isinstance(purposes, dict) else set()


def _configured(veil_yml: Path) -> set[str]:
    """The consent and erasure relations an existing veil.yml names (they get no table policy)."""
    if not veil_yml.is_file():
        return set()
    try:
        doc = yaml.safe_load(veil_yml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return set()
    found = set()
    for key in ("consent", "erasure"):
        spec = doc.get(key) if isinstance(doc, dict) else None
        if isinstance(spec, dict):
            try:
                found.add(str(parse_relation(spec.get("relation"))))
            except ValueError:
                continue
    return found


def _plugin_configured(root: Path) -> bool:
    path = root / "profiles.yml"
    return path.is_file() and "veil.dbt_duckdb" in path.read_text(encoding="utf-8")


def _adapter(root: Path) -> str | None:
    """The dbt target's adapter type, None when no profile can be read."""
    from veil.project import Project

    try:
        return Project.load(root).adapter
    except UsageError:
        return None


def _setup_note(root: Path) -> str | None:
    """What the project's adapter still needs for the keyed strategies, if anything."""
    adapter = _adapter(root)
    if adapter == "postgres":
        return ("the dbt target is PostgreSQL: the keyed functions live in the database; run `veil keys install "
                "--target <a superuser target> --grant <the role dbt builds as>` before `dbt build`")
    if adapter == "spark":
        return ("the dbt target is Spark: build through `veil.dbt_spark.run_dbt`, which registers the keyed "
                "functions on the session")
    if adapter in (None, "duckdb") and not _plugin_configured(root):
        return f"profiles.yml has no veil plugin yet: add `{PLUGIN_LINE}` under your DuckDB target"
    return None


# -- the command

def init_project(project_dir: str | Path, database: Path | None = None, update: bool = False,
                 rows: int = DEFAULT_SAMPLE) -> InitReport:
    """Draft the policies of a dbt project; never overwrites a policy. See the module docstring."""
    root = Path(project_dir)
    if not (root / "dbt_project.yml").is_file():
        raise UsageError(f"{project_dir}: no dbt_project.yml here; run `veil init` in a dbt project")
    veil_yml = root / "policies" / "veil.yml"
    if veil_yml.exists() and not update:
        raise UsageError(f"{veil_yml} already exists; veil is initialised here (`veil init --update` drafts new "
                         "tables and columns)")
    if database is not None and not Path(database).is_file():
        raise UsageError(f"warehouse {database} not found (pass --database FILE, an existing DuckDB file)")
    report = InitReport(root, update)
    found, origin = _tables(root, database, report)
    if not found.tables:
        return _skeleton(root, veil_yml, report)
    path, why = project_warehouse(root, database)
    with Sampler(path) as sampler:
        result = sample_and_classify(sampler, found.tables, rows, found)
    if path is None and any(t.kind == "source" for t in found.tables):
        report.notes.append(f"{why}: sources were drafted from their declared column names only; build or load the "
                            "warehouse, then `veil init --update` adds the columns it finds")
    _draft(root, veil_yml, result, origin, report, update)
    _gitignore(root, report)
    note = _setup_note(root)
    if note:
        report.notes.append(note)
    _validate(root, report)
    return report


def _skeleton(root: Path, veil_yml: Path, report: InitReport) -> InitReport:
    report.notes.append("no sources or seeds found (run `dbt parse` so that target/manifest.json lists them, then "
                        "`veil init --update`); wrote a commented skeleton")
    for target, template in ((veil_yml, "init_veil.yml"),
                             (root / "policies" / "tables" / "example.yml.sample", "init_example.yml.sample")):
        if not target.exists():
            write_atomic(target, _template(template))
            report.created.append(target)
    _gitignore(root, report)
    return report


def _names(results: list[TableResult], taken: set[str]) -> dict[str, str]:
    """table key -> policy table name, unique (a source's name gets its source's prefix on a clash)."""
    wanted: dict[str, str] = {}
    counts: dict[str, int] = {}
    for r in results:
        name = policy_name(r.ref.policy_name or r.ref.name)
        counts[name] = counts.get(name, 0) + 1
    used = set(taken)
    for r in results:
        name = policy_name(r.ref.policy_name or r.ref.name)
        if (counts[name] > 1 or name in used) and r.ref.kind == "source" and r.ref.relation:
            name = policy_name(f"{parse_relation(r.ref.relation).args[0]}_{name}")
        base, n = name, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        wanted[r.ref.key] = name
    return wanted


def _draft(root: Path, veil_yml: Path, result: Classified, origin: str, report: InitReport, update: bool) -> None:
    policy_dir = root / "policies" / "tables"
    purposes = _purposes(veil_yml)
    existing = _existing(policy_dir)
    subjects = result.subjects
    skip = subjects.infrastructure() | {t.ref.key for t in result.tables if t.ref.relation in _configured(veil_yml)}
    drafts = []
    for table in result.tables:
        if table.ref.key in skip:
            continue
        if not table.columns:
            report.notes.append(f"{table.ref.label}: no columns known (not in the warehouse, no seed file, none "
                                "declared; a stale manifest? run `dbt parse`): no policy drafted")
            continue
        drafts.append(table)
    taken = {str(doc.get("table")) for _, doc in existing.values()} | {p.stem for p in policy_dir.glob("*.y*ml")}
    names = _names([t for t in drafts if t.ref.relation not in existing], taken)
    for table in drafts:
        if table.ref.relation in existing:
            path, doc = existing[table.ref.relation]
            if not (update and _report_update(path, doc, table, purposes, report)):
                report.kept.append(path)
            continue
        name = names[table.ref.key]
        path = policy_dir / f"{name}.yml"
        write_atomic(path, render_policy(name, table, subjects.links.get(table.ref.key), purposes))
        report.created.append(path)
    _describe(subjects, report)
    if veil_yml.exists():
        if subjects.table is not None and (subjects.consent or subjects.registry):
            report.notes.append("policies/veil.yml exists and was left alone; check its `consent:` and `erasure:`")
        return
    consent, erasure, comments = _infrastructure(root, subjects, report)
    write_atomic(veil_yml, render_project(origin, consent, erasure, comments))
    report.created.insert(0, veil_yml)


def _report_update(path: Path, doc: dict, table: TableResult, purposes: set[str], report: InitReport) -> bool:
    """Append the table's new columns to its policy; True when it changed (or could not be)."""
    added = _update(path, doc, table, purposes)
    if added is None:
        report.notes.append(f"{path}: cannot append to its schema list (flow style?); add these columns by hand: "
                            + ", ".join(v.column for v in table.columns))
        return True
    if added:
        report.updated.append((path, added))
        return True
    return False


def _describe(subjects: Subjects, report: InitReport) -> None:
    if subjects.table is None:
        report.found.append("no data subject found (no table holds direct PII with a key): the drafts have no "
                            "`subject:`, so no erasure or consent filter applies")
        return
    report.found.append(f"subject: {subjects.table.key}.{subjects.key} ({subjects.why})")
    for key, link in sorted(subjects.links.items()):
        if key == subjects.table.key:
            continue
        how = link.column if link.via is None else f"via {link.column} -> {link.via.key}.{link.key}"
        report.found.append(f"  {key}: {how} ({link.why})")
    if subjects.consent:
        report.found.append(f"consent log: {subjects.consent.table.label}")
    if subjects.registry:
        report.found.append(f"deletion registry: {subjects.registry.table.label}")


def _infrastructure(root: Path, subjects: Subjects, report: InitReport
                    ) -> tuple[dict | None, dict | None, dict[str, str]]:
    if subjects.table is None:
        return None, None, {}
    from veil.project import Project

    settings = Project.load(root).dbt_project
    comments: dict[str, str] = {}
    column = subjects.subject_column
    if subjects.consent:
        c = subjects.consent
        consent = {"relation": c.table.relation, "subject": c.subject, "purpose": c.purpose, "granted": c.granted,
                   "recorded_at": c.recorded_at}
        comments["consent"] = f"the project's consent log ({c.table.key})"
    else:
        consent = {"relation": f"ref('{CONSENT_SEED}')", "subject": column, "purpose": "purpose",
                   "granted": "granted", "recorded_at": "recorded_at"}
        comments["consent"] = f"scaffolded by veil init (seeds/{CONSENT_SEED}.csv): one row per decision"
    if subjects.registry:
        r = subjects.registry
        erasure = {"relation": r.table.relation, "subject": r.subject, "requested_at": r.requested_at}
        if r.request_id:
            erasure["request_id"] = r.request_id
        comments["erasure"] = f"the project's deletion registry ({r.table.key})"
    else:
        erasure = {"relation": f"ref('{REGISTRY_SEED}')", "subject": column, "requested_at": "requested_at",
                   "request_id": "request_id"}
        comments["erasure"] = f"scaffolded by veil init (seeds/{REGISTRY_SEED}.csv): subjects to forget"
    if (not subjects.consent or not subjects.registry) and _scaffold(
            root, settings, subjects, report, not subjects.consent, not subjects.registry):
        report.found.append(f"scaffolded {'the consent log' if not subjects.consent else ''}"
                            f"{' and ' if not subjects.consent and not subjects.registry else ''}"
                            f"{'the deletion registry' if not subjects.registry else ''} as seeds typed like "
                            f"{subjects.table.key}.{subjects.key} ({column}: {_seed_type(subjects.key_type)}); "
                            "`dbt seed` loads them")
    return consent, erasure, comments


def _validate(root: Path, report: InitReport) -> None:
    from veil.policy.load import load_policies

    try:
        load_policies(root)
    except VeilError as exc:
        report.notes.append(f"the policies do not load yet, fix these before `veil compile`:\n{exc}")
