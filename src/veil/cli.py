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

PROJECT_DIR = click.option(
    "--project-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The dbt project holding policies/.")
DATABASE = click.option(
    "--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="The warehouse DuckDB file (default: the dbt target's path in profiles.yml).")


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a VeilError into its message on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except VeilError as exc:
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)

    return wrapper


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
@reports_errors
def compile_command(project_dir: Path, check: bool) -> None:
    """Compile policies into dbt models, macros and tests.

    \b
    Example:
      veil compile                 # writes models/veil/ and macros/veil/
      veil compile --check         # in CI: exit 1 when they are stale
    """
    from veil.compile import compile_project

    plan, report = compile_project(project_dir, check=check)
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
@reports_errors
def init_command(project_dir: Path) -> None:
    """Add a commented policies/ skeleton to an existing dbt project.

    \b
    Example:
      veil init --project-dir ~/src/my_dbt_project
    """
    from veil.init import NEXT_STEPS, init_project

    for path in init_project(project_dir):
        click.echo(f"created {path}")
    click.echo(NEXT_STEPS)


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
    Example:
      veil publish --audience analyst --out published/analyst.duckdb
    """
    from veil.compile.plan import plan_project
    from veil.policy.load import load_policies
    from veil.publish import publish
    from veil.warehouse import resolve_database

    plan = plan_project(load_policies(project_dir))
    tables = publish(plan, audience, resolve_database(project_dir, database), out)
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
    from veil.compile.plan import plan_project
    from veil.policy.load import load_policies
    from veil.summary import format_summary, summarize
    from veil.warehouse import resolve_database

    plan = plan_project(load_policies(project_dir))
    click.echo(format_summary(summarize(plan, project_dir, resolve_database(project_dir, database), as_of)))


@main.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@PROJECT_DIR
@click.option("--purpose", default=None, help="The purpose of every query (else a `-- veil: purpose=P` comment, "
              "else the dbt model's meta.veil.purpose).")
@click.option("--dialect", default=None, help="SQL dialect of the files (default duckdb, or [tool.veil.lint]).")
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
    import duckdb

    from veil.policy.load import load_policies
    from veil.relations import PhysicalRelations
    from veil.retention import apply_retention, format_results
    from veil.warehouse import resolve_database

    policies = load_policies(project_dir)
    path = resolve_database(project_dir, database)
    if not path.is_file():
        raise UsageError(f"warehouse {path} not found")
    with duckdb.connect(str(path), read_only=dry_run) as con:
        relations = PhysicalRelations.for_project(project_dir, con)
        results = apply_retention(policies, con, relations, as_of=as_of, dry_run=dry_run)
    click.echo(format_results(results, dry_run))


@main.group("keys")
def keys_group() -> None:
    """Manage veil's keys: a keyring of named, versioned data keys wrapped by a key-encryption key."""


KEYRING_PATH = click.option("--keyring", "keyring_path", type=click.Path(dir_okay=False, path_type=Path),
                            default=None, help="The keyring file (default: VEIL_KEYRING, else .veil/keyring.json).")


def _keyring_path(keyring_path: Path | None) -> Path:
    import os

    from veil.keyring import DEFAULT_KEYRING, KEYRING_ENV

    return keyring_path or Path(os.environ.get(KEYRING_ENV) or DEFAULT_KEYRING)


@keys_group.command("init")
@KEYRING_PATH
@reports_errors
def keys_init_command(keyring_path: Path | None) -> None:
    """Create a development keyring (0600) and its local key-encryption key; keep an existing one.

    \b
    Example:
      veil keys init && export VEIL_KEYRING=$PWD/.veil/keyring.json
    """
    from veil.keyring import init_keyring

    path = _keyring_path(keyring_path)
    if path.exists():
        click.echo(f"kept existing keyring {path}")
        return
    init_keyring(path)
    click.echo(f"created keyring {path} (keys: hmac, fpe, vault, encrypt; each wrapped by {path.parent}/master.key)\n"
               f"use it with: export VEIL_KEYRING={path.resolve()}")


@keys_group.command("rotate")
@click.argument("name")
@KEYRING_PATH
@reports_errors
def keys_rotate_command(name: str, keyring_path: Path | None) -> None:
    """Add a new version of key NAME and make it primary; old versions still decrypt.

    \b
    Example:
      veil keys rotate encrypt && veil keys reencrypt
    """
    from veil.keyring import rotate_key

    key = rotate_key(_keyring_path(keyring_path), name)
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
    import duckdb

    from veil.compile.plan import plan_project
    from veil.keyring import load_keyring
    from veil.policy.load import load_policies
    from veil.reencrypt import reencrypt_warehouse
    from veil.relations import PhysicalRelations
    from veil.vault import Vault, vault_path
    from veil.warehouse import resolve_database

    keyring = load_keyring()
    if keyring is None:
        raise UsageError("no keys: set VEIL_KEYRING (see `veil keys init`) or VEIL_KEY")
    path = vault_path()
    if path.is_file():
        vault = Vault(path, keyring)
        click.echo(f"vault {path}: re-sealed {vault.reencrypt()} entries")
        vault.close()
    plan = plan_project(load_policies(project_dir))
    warehouse = resolve_database(project_dir, database)
    if warehouse.is_file():
        with duckdb.connect(str(warehouse)) as con:
            for done in reencrypt_warehouse(plan, con, PhysicalRelations.for_project(project_dir, con), keyring):
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
    Systems: the token vault, policy tables (delete, or anonymize), the consent log,
    dbt tables and seeds, seed files, published files; views and aggregates are listed.
    Example:
      veil erase --dry-run && veil erase && veil audit report
    """
    from veil.erasure.run import run_erasure
    from veil.warehouse import resolve_database

    path = resolve_database(project_dir, database)
    result = run_erasure(project_dir, path, dry_run=dry_run, reapply=reapply,
                         progress=_progress_bar if not dry_run and sys.stderr.isatty() else lambda s: s)
    verb = "would erase" if dry_run else "re-applied" if reapply else "erased"
    click.echo(f"{len(result.pending)} requests {'to re-apply' if reapply else 'pending'}; "
               f"{len(result.held)} on legal hold")
    for outcome in result.outcomes:
        system = outcome.system
        what = (f"{verb} {outcome.rows} rows of {outcome.requests} requests ({system.method})"
                if system.stores_data and outcome.requests else outcome.note or "nothing pending")
        click.echo(f"  {system.kind:<15} {system.name}: {what}")
    if not dry_run and not reapply:
        click.echo(f"{len(result.completed)} requests completed")


def _progress_bar(systems):
    """Systems one by one, with a progress bar on the terminal (long runs)."""
    with click.progressbar(systems, label="erasing", file=sys.stderr,
                           item_show_func=lambda s: s.name if s else "") as items:
        yield from items


@main.group("audit")
def audit_group() -> None:
    """Inspect the audit trail: verify its hash chain, report erasures, check deadlines."""


@audit_group.command("verify")
@reports_errors
def audit_verify_command() -> None:
    """Exit 0 when the hash chain is intact; 1 naming the first changed, removed or reordered record.

    \b
    Example:
      veil audit verify
    """
    from veil.audit.trail import audit_trail

    trail = audit_trail()
    click.echo(f"audit trail {trail.path}: {trail.verify()} records, chain intact")


def _requests(project_dir: Path, database: Path | None):
    import duckdb

    from veil.erasure.requests import load_requests
    from veil.policy.load import load_policies
    from veil.relations import PhysicalRelations
    from veil.warehouse import resolve_database

    policies = load_policies(project_dir)
    if policies.project.erasure is None:
        raise UsageError("policies/veil.yml has no `erasure:` relation")
    with duckdb.connect(str(resolve_database(project_dir, database)), read_only=True) as con:
        return policies, load_requests(policies, con, PhysicalRelations.for_project(project_dir, con))


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
    from veil.audit.trail import audit_trail
    from veil.erasure.report import format_report, request_report

    policies, requests = _requests(project_dir, database)
    entries = request_report(audit_trail(), requests, policies.project.erasure.sla_days, request_id)
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
    from veil.audit.trail import audit_trail
    from veil.erasure.report import format_sla, sla

    policies, requests = _requests(project_dir, database)
    lines = sla(audit_trail(), requests, policies.project.erasure.sla_days)
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
    from veil.compile.plan import plan_project
    from veil.policy.load import load_policies
    from veil.relations import PhysicalRelations
    from veil.snapshot import check_snapshot, create_snapshot, format_check, format_snapshot
    from veil.warehouse import resolve_database

    if check_dir is not None and (audience or out):
        raise UsageError("--check DIR takes neither --audience nor --out")
    if check_dir is None and not (audience and out):
        raise UsageError("give --audience and --out to write a snapshot, or --check DIR to check one")
    plan = plan_project(load_policies(project_dir))
    path = resolve_database(project_dir, database)
    relations = PhysicalRelations.for_project(project_dir)
    if check_dir is not None:
        check = check_snapshot(plan, path, check_dir, relations=relations)
        click.echo(format_check(check))
        sys.exit(check.exit_code)
    click.echo(format_snapshot(create_snapshot(plan, path, audience, out, relations=relations)))


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

    path = run_access(project_dir, database, subject, fmt, out)
    click.echo(f"wrote the access report for subject {subject} to {path}")


@main.command("reveal")
@click.argument("values", nargs=-1, required=True)
@click.option("--audience", required=True, help="The audience asking (must have the column in may_reveal).")
@click.option("--table", required=True, help="The policy table of the values.")
@click.option("--column", required=True, help="The column the values come from.")
@click.option("--reason", required=True, help="Why the originals are needed (audited).")
@PROJECT_DIR
@reports_errors
def reveal_command(values: tuple[str, ...], audience: str, table: str, column: str, reason: str,
                   project_dir: Path) -> None:
    """Print the originals of tokens or ciphertexts, for an authorized audience; every call is audited.

    \b
    Exit 1 (and an audited refusal) when the audience may not reveal the column.
    Example:
      veil reveal --audience support --table payments --column card_number \\
        --reason "ticket 4711: customer disputes a charge" 4929-1234-5678-9012
    """
    from veil.keyring import load_keyring
    from veil.policy.load import load_policies
    from veil.reveal import RevealRequest, reveal

    policies = load_policies(project_dir)
    for original in reveal(policies, load_keyring(), RevealRequest(audience, table, column, values, reason)):
        click.echo(original)
