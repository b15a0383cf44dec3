"""The `veil` command: thin click commands over the library.

Exit codes everywhere: 0 fine, 1 findings or failed checks, 2 bad input or
usage. A user error prints one clean message (a policy error prints
`path:line: key: message` per problem), never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from veil import __version__
from veil.errors import UsageError, VeilError
from veil.strategies.base import TARGETS

PROJECT_DIR = click.option(
    "--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The dbt project holding policies/.")
DATABASE = click.option(
    "--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="A DuckDB warehouse file (default: the dbt target in profiles.yml: its DuckDB path, or its PostgreSQL "
         "database).")


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a VeilError (or a warehouse driver error) into its message on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import duckdb

        from veil.warehouse import translate_error

        try:
            return command(*args, **kwargs)
        except VeilError as exc:
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)
        except duckdb.Error as exc:   # a connection some building block opened itself
            click.echo(str(translate_error(exc, "the warehouse")), err=True)
            sys.exit(2)

    return wrapper


def _project(project_dir: Path, database: Path | None = None):
    from veil.project import Project

    return Project.load(project_dir, database=database)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
def main() -> None:
    """veil: privacy policy-as-code for dbt.

    \b
    Example:
      veil init --project-dir my_dbt_project
      veil compile && dbt build
      veil publish --audience analyst --out analyst.duckdb
    """


@main.command("compile")
@PROJECT_DIR
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if generated files are stale.")
@click.option("--target", type=click.Choice(list(TARGETS)), default=None,
              help="The warehouse the models must run on: refuse strategies it cannot run "
                   "(default: the dbt profile target's type). The files are the same for every target.")
@reports_errors
def compile_command(project_dir: Path, check: bool, target: str | None) -> None:
    """Compile policies into dbt models, macros and tests.

    \b
    Example:
      veil compile                 # writes models/veil/ and macros/veil/
      veil compile --check         # in CI: exit 1 when they are stale
      veil compile --target postgres   # exit 2 if a policy needs a DuckDB-only strategy
    """
    from veil.compile import compile_project

    plan, report = compile_project(project_dir, check=check, target=target)
    for path in report.foreign:
        click.echo(f"warning: {path} is in a generated folder but was not written by veil; left alone", err=True)
    if check:
        if report.stale:
            click.echo("stale generated files (run `veil compile`):\n  " + "\n  ".join(report.stale))
            sys.exit(1)
        click.echo(f"generated files are current ({len(report.unchanged)} files)")
        return
    click.echo(f"compiled {len(plan.models)} models for {len(plan.policies.project.audiences)} audiences: "
               f"{len(report.written)} written, {len(report.removed)} removed, {len(report.unchanged)} unchanged")


@main.command("init")
@PROJECT_DIR
@DATABASE
@click.option("--update", is_flag=True,
              help="Draft what is new: policies for new tables, new columns (as unreviewed drafts) in existing ones.")
@click.option("--sample", "sample_rows", type=click.IntRange(min=1), default=None,
              help="Rows sampled per table (default 2000).")
@reports_errors
def init_command(project_dir: Path, database: Path | None, update: bool, sample_rows: int | None) -> None:
    """Draft veil policies for every source and seed of a dbt project.

    Reads target/manifest.json (run `dbt parse` first) or the warehouse,
    classifies every column, and writes policies/veil.yml and one
    policies/tables/<table>.yml per table; never overwrites a policy.

    \b
    Example:
      dbt parse && veil init
      veil init --update           # after new sources, seeds or columns
    """
    from veil.classify.sample import DEFAULT_SAMPLE
    from veil.init import init_project

    report = init_project(project_dir, database=database, update=update, rows=sample_rows or DEFAULT_SAMPLE)
    click.echo(report.render())


@main.command("classify")
@PROJECT_DIR
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Classify every table of this DuckDB file instead of the project's sources and seeds.")
@click.option("--schema", default=None, help="Only the tables of this schema.")
@click.option("--sample", "sample_rows", type=click.IntRange(min=1), default=None,
              help="Rows sampled per table (default 2000).")
@click.option("--format", "output_format", type=click.Choice(["human", "json", "yaml"]), default="human",
              show_default=True, help="human, or json / yaml for programs.")
@click.option("--check", is_flag=True,
              help="CI: exit 1 when a column of a policy table is missing from its policy or its values contradict "
                   "its classification.")
@reports_errors
def classify_command(project_dir: Path, database: Path | None, schema: str | None, sample_rows: int | None,
                     output_format: str, check: bool) -> None:
    """Find the PII: classify every column of a warehouse or of a dbt project's sources and seeds.

    \b
    Example:
      veil classify --database warehouse.duckdb --schema raw
      dbt parse && veil classify --format json
      veil classify --check          # in CI, after dbt build
    """
    from veil.classify.sample import DEFAULT_SAMPLE

    rows = sample_rows or DEFAULT_SAMPLE
    if check:
        import json

        from veil.classify.check import check_project

        report = check_project(project_dir, database=database, rows=rows)
        if output_format == "human":
            for note in report.notes:
                click.echo(f"note: {note}", err=True)
            for finding in report.findings:
                click.echo(str(finding))
            if report.findings:
                click.echo(f"{len(report.findings)} problems in {report.tables} policy tables", err=True)
            else:
                click.echo(f"{report.tables} policy tables checked: every column is in its policy and no sampled "
                           "values contradict its classification")
        else:
            import yaml

            data = {"findings": [f.as_json() for f in report.findings]}
            click.echo(json.dumps(data, ensure_ascii=False) if output_format == "json"
                       else yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"))
        sys.exit(1 if report.findings else 0)
    from veil.classify import classify_project, classify_warehouse
    from veil.classify.report import render

    if database is not None:
        result = classify_warehouse(database, schema=schema, rows=rows)
    else:
        result = classify_project(project_dir, rows=rows, schema=schema)
    click.echo(render(result, output_format))


@main.command("publish")
@click.option("--audience", required=True, help="The audience whose tables to publish.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The DuckDB file to write (replaced atomically).")
@PROJECT_DIR
@DATABASE
@reports_errors
def publish_command(audience: str, out: Path, project_dir: Path, database: Path | None) -> None:
    """Write a standalone DuckDB file with one audience's tables and nothing else.

    \b
    The tables are read from the dbt target's warehouse (DuckDB or PostgreSQL).
    Example:
      veil publish --audience analyst --out published/analyst.duckdb
    """
    from veil.publish import audience_models, publish

    project = _project(project_dir, database)
    audience_models(project.plan, audience)   # an unknown audience fails before the warehouse is opened
    with project.warehouse(read_only=True) as warehouse:
        tables = publish(project.plan, audience, warehouse, out, trail=project.trail())
    for table in tables:
        click.echo(f"  {table.name}: {table.columns} columns, {table.rows} rows")
    click.echo(f"published {len(tables)} tables for audience {audience} to {out}")


def _valid_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    import re

    from veil.compile.render_retention import AS_OF_PATTERN

    if value is not None and not re.match(AS_OF_PATTERN, value):
        raise click.BadParameter("expected a date or timestamp such as 2026-11-01 or '2026-11-01 12:00:00'")
    return value


AS_OF = click.option("--as-of", default=None, metavar="DATE", callback=_valid_as_of,
                     help="The clock for retention (default: now), like the dbt var veil_as_of.")


@main.command("summary")
@PROJECT_DIR
@DATABASE
@AS_OF
@reports_errors
def summary_command(project_dir: Path, database: Path | None, as_of: str | None) -> None:
    """Per audience: tables, columns kept/masked/dropped, rows, and rows lost to each filter.

    \b
    Example:
      veil summary
    """
    from veil.summary import format_summary, summarize

    project = _project(project_dir, database)
    with project.warehouse(read_only=True, missing_ok=True) as warehouse:   # not built yet: no row counts
        summaries = summarize(project.plan, project.root, as_of=as_of, warehouse=warehouse)
    click.echo(format_summary(summaries))


@main.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@PROJECT_DIR
@click.option("--purpose", default=None, help="The purpose of every query (else a `-- veil: purpose=P` comment, "
              "else the dbt model's meta.veil.purpose).")
@click.option("--dialect", default=None, help="SQL dialect of the files (default: [tool.veil.lint] dialect, else "
              "with --dbt the profile's adapter, e.g. postgres, else duckdb).")
@click.option("--format", "fmt", type=click.Choice(["human", "json", "sarif", "github", "junit"]),
              default="human", show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Lint files in N processes.")
@click.option("--dbt/--no-dbt", "dbt_mode", default=None,
              help="Lint the dbt project's compiled models (default when target/manifest.json exists "
                   "and no PATH is given).")
@reports_errors
def lint_command(paths: tuple[Path, ...], project_dir: Path, purpose: str | None, dialect: str | None,
                 fmt: str, output: Path | None, jobs: int | None, dbt_mode: bool | None) -> None:
    """Fail CI on SELECT * and on uses of PII the query's purpose may not touch.

    \b
    Exit codes: 0 no findings, 1 findings (of error severity), 2 usage or policy error.
    Example:
      veil lint queries/ --purpose analytics
      dbt compile && veil lint --dbt --format sarif --output veil.sarif
    """
    from veil.lint.main import lint_main

    exit_code = lint_main(paths, project_dir, purpose=purpose, dialect=dialect, fmt=fmt, output=output,
                          jobs=jobs, dbt_mode=dbt_mode, color=output is None and sys.stdout.isatty())
    sys.exit(exit_code)


@main.command("retention")
@PROJECT_DIR
@DATABASE
@AS_OF
@click.option("--dry-run", is_flag=True, help="Count what would be deleted or nulled; change nothing.")
@reports_errors
def retention_command(project_dir: Path, database: Path | None, as_of: str | None, dry_run: bool) -> None:
    """Delete rows past their table's retention and null expired columns, in place.

    \b
    Example:
      veil retention --dry-run     # counts per table
      veil retention               # one DELETE and one UPDATE per table
    """
    from veil.retention import format_results, run_retention

    results = run_retention(_project(project_dir, database), as_of=as_of, dry_run=dry_run)
    click.echo(format_results(results, dry_run))


@main.group("keys")
def keys_group() -> None:
    """Manage veil's keys: a keyring of named, versioned data keys wrapped by a key-encryption key."""


KEYRING_PATH = click.option("--keyring", "keyring_path", type=click.Path(dir_okay=False, path_type=Path),
                            default=None,
                            help="The keyring file (default: VEIL_KEYRING, else <project>/.veil/keyring.json).")


def _keyring_path(keyring_path: Path | None, project_dir: Path) -> Path:
    return keyring_path or _project(project_dir).keyring_path


@keys_group.command("init")
@KEYRING_PATH
@PROJECT_DIR
@reports_errors
def keys_init_command(keyring_path: Path | None, project_dir: Path) -> None:
    """Create a development keyring (0600) and its local key-encryption key; keep an existing one.

    \b
    Example:
      veil keys init && export VEIL_KEYRING=$PWD/.veil/keyring.json
    """
    from veil.keyring import KEY_NAMES, init_keyring

    path = _keyring_path(keyring_path, project_dir)
    if path.exists():
        click.echo(f"kept existing keyring {path}")
        return
    init_keyring(path)
    click.echo(f"created keyring {path} (keys: {', '.join(KEY_NAMES)}; each wrapped by {path.parent}/master.key)\n"
               f"use it with: export VEIL_KEYRING={path.resolve()}")


@keys_group.command("rotate")
@click.argument("name")
@KEYRING_PATH
@PROJECT_DIR
@reports_errors
def keys_rotate_command(name: str, keyring_path: Path | None, project_dir: Path) -> None:
    """Add a new version of key NAME and make it primary; old versions still decrypt.

    \b
    Example:
      veil keys rotate encrypt && veil keys reencrypt
    """
    from veil.keyring import rotate_key

    key = rotate_key(_keyring_path(keyring_path, project_dir), name)
    click.echo(f"{key.key_id} is now the primary version of {name}")


@keys_group.command("reencrypt")
@PROJECT_DIR
@DATABASE
@reports_errors
def keys_reencrypt_command(project_dir: Path, database: Path | None) -> None:
    """Rewrite vault entries and stored ciphertexts to the primary key versions (resumable).

    \b
    Example:
      veil keys reencrypt
    """
    from veil.reencrypt import reencrypt_warehouse
    from veil.vault import Vault

    project = _project(project_dir, database)
    keyring = project.keyring()
    if keyring is None:
        raise UsageError("no keys: set VEIL_KEYRING (see `veil keys init`) or VEIL_KEY")
    path = project.vault_path
    if path.is_file():
        vault = Vault(path, keyring)
        click.echo(f"vault {path}: re-sealed {vault.reencrypt()} entries")
        vault.close()
    if project.database.is_file():
        with project.warehouse() as warehouse:
            for done in reencrypt_warehouse(project.plan, warehouse.con, warehouse.relations, keyring):
                click.echo(f"{done.where}: re-sealed {done.rows} values")


@main.command("erase")
@PROJECT_DIR
@DATABASE
@click.option("--dry-run", is_flag=True, help="Count what would be erased, per system; change nothing.")
@click.option("--reapply", is_flag=True, help="Re-apply every completed erasure (after restoring a backup).")
@reports_errors
def erase_command(project_dir: Path, database: Path | None, dry_run: bool, reapply: bool) -> None:
    """Erase every pending request of the erasure registry from every system, with an audit trail.

    \b
    Whose row is whose comes from the identity graph (policy subjects, `via`
    relationships, column lineage, meta.veil.subject), never a column name.
    Systems: the token vault, files veil wrote (exports, snapshots, published
    files, temp leftovers), seed CSVs, policy tables (delete or anonymize), the
    consent log, dbt tables and seeds, sources; views and aggregates are listed.
    Exit 1 when a system is unresolved or a registry id is refused (requests stay open).
    Example:
      veil erase --dry-run && veil erase && veil audit report
    """
    from veil.erasure.run import run_erasure

    result = run_erasure(_project(project_dir, database), dry_run=dry_run, reapply=reapply,
                         progress=_progress_bar if not dry_run and sys.stderr.isatty() else lambda s: s)
    verb = "would erase" if dry_run else "re-applied" if reapply else "erased"
    click.echo(f"{len(result.pending)} requests {'to re-apply' if reapply else 'pending'}; "
               f"{len(result.held)} on legal hold; {len(result.invalid)} refused")
    for request_id, reason in sorted(result.invalid.items()):
        click.echo(f"  refused request {request_id}: {reason}")
    for outcome in result.outcomes:
        system = outcome.system
        if system.stores_data and outcome.requests and outcome.rows:
            what = f"{verb} {outcome.rows} rows of {outcome.requests} requests ({system.method})"
        elif system.stores_data and (outcome.requests or outcome.note == "dry run"):
            what = "nothing of the pending subjects here" + (" (confirmed)" if not dry_run else "")
        else:
            what = outcome.note or "nothing pending"
        click.echo(f"  {system.kind:<15} {system.name}: {what}")
    if result.unresolved:
        click.echo(f"{len(result.unresolved)} unresolved systems: requests stay open until each is resolved")
    if not dry_run and not reapply:
        click.echo(f"{len(result.completed)} requests completed")
    if result.unresolved or result.invalid:
        sys.exit(1)


def _progress_bar(systems):
    """Systems one by one, with a progress bar on the terminal (long runs)."""
    with click.progressbar(systems, label="erasing", file=sys.stderr,
                           item_show_func=lambda s: s.name if s else "") as items:
        yield from items


@main.group("audit")
def audit_group() -> None:
    """Inspect the audit trail: verify its MAC chain, anchor its head, report erasures, check deadlines."""


def _audit_trail(project_dir: Path):
    """The project's trail, and a note when VEIL_AUDIT_DB puts it elsewhere than <project>/.veil/."""
    project = _project(project_dir)
    trail = project.trail()
    default = project.state_dir / "audit.duckdb"
    if trail.path != default:
        click.echo(f"note: the audit trail is {trail.path} (VEIL_AUDIT_DB), not the project's {default}", err=True)
    return trail


def _read_anchor(path: Path):
    from veil.audit.trail import Anchor

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the anchor {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return Anchor.from_json(text, source=f"anchor {path}")


@audit_group.command("verify")
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An anchor from `veil audit anchor`: also fail on any truncation, rewrite or loss since it.")
@PROJECT_DIR
@reports_errors
def audit_verify_command(anchor_path: Path | None, project_dir: Path) -> None:
    """Exit 0 when every record's MAC checks out; 1 naming the first changed, removed, reordered or
    unMACed record, when there is no trail, or when it does not match --anchor; 2 without the keyring.

    \b
    Example:
      veil audit verify --project-dir my_dbt_project
      veil audit verify --anchor anchors/audit-2026-11-28.json
    """
    anchor = _read_anchor(anchor_path) if anchor_path is not None else None
    trail = _audit_trail(project_dir)
    checked = trail.verification(anchor)
    line = f"audit trail {trail.path}: {checked.records} records, chain intact (MACs under {', '.join(checked.key_ids)})"
    if checked.unkeyed:
        line += (f"; records 1-{checked.unkeyed} were written without a MAC and are vouched for only as sealed by "
                 f"record {checked.unkeyed + 1} ({checked.sealed_at})")
    if anchor is not None:
        line += f"; matches the anchor of record {anchor.sequence} ({anchor.time})"
    click.echo(line)


@audit_group.command("anchor")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the anchor to FILE instead of stdout.")
@PROJECT_DIR
@reports_errors
def audit_anchor_command(output: Path | None, project_dir: Path) -> None:
    """Print a signed head of the verified trail (sequence, head MAC, time) to keep off the machine.

    \b
    Exit 1 when the trail does not verify, 2 without the keyring.
    Example:
      veil audit anchor --output anchor.json && aws s3 cp anchor.json s3://audit-anchors/$(date +%F).json
    """
    trail = _audit_trail(project_dir)
    anchor = trail.anchor()
    if output is None:
        click.echo(anchor.to_json(), nl=False)
        return
    temp = output.with_name(f".{output.name}.tmp")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(anchor.to_json(), encoding="utf-8")
        temp.replace(output)
    except OSError as exc:
        raise UsageError(f"cannot write the anchor {output}: {exc.strerror or exc}") from None
    click.echo(f"anchored {trail.path} at record {anchor.sequence} ({anchor.time}) in {output}")


@audit_group.command("seal")
@PROJECT_DIR
@reports_errors
def audit_seal_command(project_dir: Path) -> None:
    """Append a MACed record sealing the unMACed records at the end of the trail (from an older veil).

    \b
    Example:
      veil keys rotate audit && veil audit seal     # a keyring made before the audit key
    """
    trail = _audit_trail(project_dir)
    record = trail.seal()
    if record is None:
        click.echo(f"audit trail {trail.path}: nothing to seal (its last record is MACed)")
        return
    click.echo(f"audit trail {trail.path}: sealed records {record.details['unkeyed_from']}-"
               f"{record.details['unkeyed_to']} with record {record.seq} ({record.key_id})")


def _requests(project_dir: Path, database: Path | None):
    from veil.erasure.requests import load_requests

    project = _project(project_dir, database)
    policies = project.policies
    if policies.project.erasure is None:
        raise UsageError("policies/veil.yml has no `erasure:` relation")
    with project.warehouse(read_only=True) as warehouse:
        return project, policies, load_requests(policies, warehouse)


@audit_group.command("report")
@click.option("--request", "request_id", default=None, help="Only this request id.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@PROJECT_DIR
@DATABASE
@reports_errors
def audit_report_command(request_id: str | None, fmt: str, project_dir: Path, database: Path | None) -> None:
    """Per request and system: method, rows, timestamps, status: the proof of erasure.

    \b
    Example:
      veil audit report --request 17 --format json
    """
    from veil.erasure.report import format_report, request_report

    project, policies, requests = _requests(project_dir, database)
    entries = request_report(project.trail(), requests, policies.project.erasure.sla_days, request_id)
    if request_id is not None and not entries:
        raise UsageError(f"no request {request_id!r} in the erasure registry")
    click.echo(format_report(entries, fmt))


@audit_group.command("sla")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@PROJECT_DIR
@DATABASE
@reports_errors
def audit_sla_command(fmt: str, project_dir: Path, database: Path | None) -> None:
    """Open erasure requests with their due date (`sla_days`, default 30); exit 1 if any is overdue.

    \b
    Example:
      veil audit sla
    """
    from veil.erasure.report import format_sla, sla

    project, policies, requests = _requests(project_dir, database)
    lines = sla(project.trail(), requests, policies.project.erasure.sla_days)
    click.echo(format_sla(lines, fmt))
    if any(line.overdue for line in lines):
        sys.exit(1)


@main.command("snapshot")
@click.option("--audience", default=None, help="The audience whose tables to snapshot (with --out).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder of versions: each snapshot adds <audience>-<UTC stamp>/ to it.")
@click.option("--check", "check_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Check this snapshot folder instead: exit 1 if a subject in it is erased now or a file changed.")
@PROJECT_DIR
@DATABASE
@reports_errors
def snapshot_command(audience: str | None, out: Path | None, check_dir: Path | None, project_dir: Path,
                     database: Path | None) -> None:
    """Write a versioned training dataset (Parquet + manifest), or check one against today's erasures.

    \b
    Exit codes with --check: 0 clean, 1 erased subjects or changed files (retrain), 2 usage error.
    Example:
      veil snapshot --audience ml --out snapshots/
      veil snapshot --check snapshots/ml-20260301T120000Z
    """
    from veil.relations import PhysicalRelations
    from veil.snapshot import (
        check_snapshot,
        create_snapshot,
        format_check,
        format_snapshot,
    )

    if check_dir is not None and (audience or out):
        raise UsageError("--check DIR takes neither --audience nor --out")
    if check_dir is None and not (audience and out):
        raise UsageError("give --audience and --out to write a snapshot, or --check DIR to check one")
    project = _project(project_dir, database)
    plan, path = project.plan, project.database
    relations = PhysicalRelations.from_manifest(project.manifest)
    if check_dir is not None:
        check = check_snapshot(plan, path, check_dir, relations=relations, env=project.env)
        click.echo(format_check(check))
        sys.exit(check.exit_code)
    click.echo(format_snapshot(create_snapshot(plan, path, audience, out, relations=relations, env=project.env)))


@main.command("access")
@click.option("--subject", "subject", required=True, metavar="ID",
              help="The data subject's id, as stored in the policies' subject columns.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json (one document) or csv (section,table,row,field,value: one value per line).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write, 0600, replaced atomically (default: access/<ID>-<UTC time>.<format>).")
@PROJECT_DIR
@DATABASE
@reports_errors
def access_command(subject: str, fmt: str, out: Path | None, project_dir: Path, database: Path | None) -> None:
    """Export everything held about one data subject (GDPR/CCPA right to know); audited.

    \b
    Every row of every policy table about the subject, unmasked, with its retention;
    consent history and current state; each audience's inclusion and column handling;
    erasure requests. The audit trail records a SHA-256 digest of the id, never the id.
    Example:
      veil access --subject 42                       # access/42-<UTC time>.json
      veil access --subject 42 --format csv --out 42.csv
    """
    from veil.access import run_access

    project = _project(project_dir, database)
    path = run_access(project.root, project.database_override, subject, fmt, out, project.env)
    click.echo(f"wrote the access report for subject {subject} to {path}")


@main.command("reveal")
@click.argument("values", nargs=-1, required=True)
@click.option("--audience", required=True, help="The audience asking (must have the column in may_reveal).")
@click.option("--table", required=True, help="The policy table of the values.")
@click.option("--column", required=True, help="The column the values come from.")
@click.option("--reason", required=True, help="Why the originals are needed (audited).")
@PROJECT_DIR
@DATABASE
@reports_errors
def reveal_command(values: tuple[str, ...], audience: str, table: str, column: str, reason: str,
                   project_dir: Path, database: Path | None) -> None:
    """Print the originals of tokens or ciphertexts veil issued for a column, for an authorized audience.

    \b
    Only what can be proven is revealed: a veil1: ciphertext that opens for the column, or a
    vault or FF1 token whose original the table's relation in the warehouse still holds.
    All or nothing: exit 1 (an audited refusal, nothing printed) when the audience may not
    reveal the column or any value is unprovable (a guess, an erased subject's token);
    exit 2 (audited failure) for a busy or missing warehouse, bad keys or bad input.
    Example:
      veil reveal --audience support --table payments --column card_number \\
        --reason "ticket 4711: customer disputes a charge" 4929-1234-5678-9012
    """
    from veil.reveal import RevealRequest, reveal

    project = _project(project_dir, database)
    originals = reveal(project.policies, project.keyring, RevealRequest(audience, table, column, values, reason),
                       project.env, warehouse=lambda: project.warehouse(read_only=True))
    for original in originals:
        click.echo(original)


@keys_group.command("install")
@click.option("--grant", "grants", multiple=True, metavar="ROLE",
              help="A role that builds models: gets EXECUTE on veil's keyed functions (repeatable; "
                   "default: the target's user).")
@click.option("--target", "target_name", default=None,
              help="The profiles.yml target to install into (default: DBT_TARGET, else the profile's target).")
@PROJECT_DIR
@reports_errors
def keys_install_command(grants: tuple[str, ...], target_name: str | None, project_dir: Path) -> None:
    """Install the keyring's keys into the project's PostgreSQL database (needs a superuser target).

    \b
    The key goes to a table only the veil_keys role reads, behind SECURITY DEFINER
    functions (veil.hmac_sha256...); re-running replaces the keys (rotation).
    Example:
      veil keys install --target postgres_admin --grant dbt_builder
    """
    import os

    from veil.postgres_setup import install_project_keys
    from veil.project import Project

    env = dict(os.environ, **({"DBT_TARGET": target_name} if target_name else {}))
    done = install_project_keys(Project.load(project_dir, env=env), grants)
    click.echo(f"installed veil's keys on {done.location} as {done.user}; EXECUTE granted to "
               f"{', '.join(done.grantees)}")


@main.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def dbt_command(dbt_args: tuple[str, ...]) -> None:
    """Run dbt in this process with veil's keyed functions where the target's SQL runs.

    \b
    On a Spark target (dbt-spark `method: session`) veil starts the session,
    registers its functions on it (the key stays in this process and its Python
    workers) and runs dbt on it; `dbt` alone cannot. On DuckDB (the plugin) and
    PostgreSQL (`veil keys install`) it is plain dbt. Every argument is dbt's;
    the exit code is dbt's (0 success, 1 a failing node, 2 an error).
    Example:
      veil dbt build --target spark --project-dir .
    """
    import os

    from veil.dbt_spark import _option, run_dbt
    from veil.project import Project

    args = list(dbt_args)
    if not args or args[0] in ("-h", "--help"):
        click.echo(click.get_current_context().get_help())
        return
    env = dict(os.environ)
    if _option(args, "--target", "-t"):
        env["DBT_TARGET"] = _option(args, "--target", "-t")
    if _option(args, "--profiles-dir"):
        env["DBT_PROFILES_DIR"] = str(Path(_option(args, "--profiles-dir")).resolve())
    project_dir = _option(args, "--project-dir") or "."
    if Project.load(project_dir, env).adapter == "spark":
        result = run_dbt(args, project_dir=project_dir)
    else:
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(args)
    sys.exit(0 if result.success else 2 if result.exception is not None else 1)
