"""Benchmark: `veil lint` against sqlfluff (rule AM04 only) on a generated corpus.

Generates the lint corpus (lint_corpus.py, default 300 queries) into a
temporary directory and times, in one run, each as a subprocess from this
venv's bin directory:

- veil lint --jobs 1 --format json --output <tmp>/veil.json <corpus>
- the same with --jobs 2
- sqlfluff lint --rules AM04 --dialect duckdb --processes 1 --format json <corpus>

It prints the median seconds of each, the findings each tool reported, and
the ratio sqlfluff / `veil lint --jobs 1`. Target: veil at least 20x faster.

Then, in this one process, the limit: veil's linter over the same texts
against a bare `sqlglot.parse` of them (best of `--runs`, alternating the
two so both see the same machine). Target: veil at most 3x the parse.
Exit 0 when the target holds, 1 when it does not, 2 when a tool crashed or
exited 2 (exit 1, findings, is expected of both). `--skip-veil` times
sqlfluff only and exits 0.

    python scripts/bench/lint_speed.py [--count 300] [--seed 7] [--runs 3] [--sqlfluff-runs 1] [--skip-veil]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lint_corpus import DEFAULT_SEED, generate, mix, write_corpus

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGET = 20.0
PARSE_TARGET = 3.0
CRASH = "Traceback (most recent call last)"


class ToolError(Exception):
    """A benchmarked tool crashed or refused its input."""


def run_tool(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Seconds and result of one run; exit 0 (clean) and 1 (findings) are both fine."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1) or CRASH in done.stderr:
        raise ToolError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    return seconds, done


def time_tool(argv: list[str], cwd: Path, runs: int,
              findings: Callable[[subprocess.CompletedProcess], str]) -> tuple[float, str]:
    """Median seconds over `runs`, and the findings of the last run."""
    seconds, described = [], ""
    for _ in range(runs):
        elapsed, done = run_tool(argv, cwd)
        seconds.append(elapsed)
        described = findings(done)
    return statistics.median(seconds), described


def veil_argv(corpus: Path, output: Path, jobs: int) -> list[str]:
    return [str(BIN / "veil"), "lint", str(corpus), "--project-dir", str(REPO), "--jobs", str(jobs),
            "--format", "json", "--output", str(output)]


def sqlfluff_argv(corpus: Path) -> list[str]:
    return [str(BIN / "sqlfluff"), "lint", "--rules", "AM04", "--dialect", "duckdb", "--processes", "1",
            "--format", "json", str(corpus)]


def veil_findings(output: Path) -> Callable[[subprocess.CompletedProcess], str]:
    """Read veil's JSON report (`summary.findings`, `summary.by_rule`), then remove it for the next run."""
    def read(done: subprocess.CompletedProcess) -> str:
        try:
            summary = json.loads(output.read_text(encoding="utf-8"))["summary"]
        except (OSError, ValueError, KeyError) as error:
            raise ToolError(f"veil lint wrote no usable report ({error}):\n{done.stderr}") from error
        output.unlink()
        return describe(summary["findings"], summary.get("by_rule", {}), summary["files"])
    return read


def sqlfluff_findings(done: subprocess.CompletedProcess) -> str:
    """Count sqlfluff's violations by code from its JSON on stdout (PRS: the file did not parse)."""
    try:
        files = json.loads(done.stdout)
    except ValueError as error:
        raise ToolError(f"sqlfluff printed no JSON ({error}):\n{done.stderr}") from error
    codes = Counter(v["code"] for f in files for v in f.get("violations", []))
    return describe(sum(codes.values()), dict(sorted(codes.items())), len(files))


def describe(total: int, by_rule: dict[str, int], files: int) -> str:
    detail = "".join(f", {rule} {n}" for rule, n in by_rule.items())
    return f"{total} in {files} files{detail}"


def report(rows: list[tuple[str, float, str]], title: str) -> None:
    print(f"\n{title}")
    print(f"  {'command':<44} {'seconds':>8}  findings")
    for label, seconds, findings in rows:
        print(f"  {label:<44} {seconds:8.3f}  {findings}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--runs", type=int, default=3, help="runs of each veil lint command")
    parser.add_argument("--sqlfluff-runs", type=int, default=1, help="runs of sqlfluff (about 50 s each)")
    parser.add_argument("--skip-veil", action="store_true", help="time sqlfluff only")
    args = parser.parse_args()

    queries = generate(args.count, args.seed)
    features = mix(queries)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, output = Path(tmp) / "corpus", Path(tmp) / "veil.json"
        write_corpus(corpus, queries)
        rows = []
        try:
            if not args.skip_veil:
                for jobs in (1, 2):
                    seconds, found = time_tool(veil_argv(corpus, output, jobs), REPO, args.runs, veil_findings(output))
                    rows.append((f"veil lint --jobs {jobs}", seconds, found))
            seconds, found = time_tool(sqlfluff_argv(corpus), Path(tmp), args.sqlfluff_runs, sqlfluff_findings)
            rows.append(("sqlfluff lint --rules AM04 --processes 1", seconds, found))
        except ToolError as error:
            print(error, file=sys.stderr)
            return 2
    report(rows, f"lint speed: {len(queries)} queries (seed {args.seed}: {features['star']} with *, "
                 f"{features['pii']} with unmasked PII), median of {args.runs} veil / {args.sqlfluff_runs} "
                 f"sqlfluff runs")
    if args.skip_veil:
        return 0
    ratio = rows[-1][1] / rows[0][1]
    ok = ratio >= TARGET
    print(f"  sqlfluff / veil lint --jobs 1: {ratio:.1f}x (target >= {TARGET:.0f}x) {'ok' if ok else 'MISSED'}")
    parse, lint = over_parse([q.text for q in queries], max(args.runs, 3))
    over = lint / parse
    near = over <= PARSE_TARGET
    print(f"  in one process: sqlglot.parse {parse:.3f} s, veil's linter {lint:.3f} s: "
          f"{over:.2f}x the parse (target <= {PARSE_TARGET:.0f}x) {'ok' if near else 'MISSED'}")
    return 0 if ok and near else 1


def over_parse(texts: list[str], runs: int) -> tuple[float, float]:
    """Best seconds of a bare sqlglot parse of every text, and of veil's linter over them."""
    import sqlglot

    from veil.compile.plan import plan_project
    from veil.lint.catalog import PolicyCatalog
    from veil.lint.engine import FileInput, Linter
    from veil.policy.load import load_policies

    linter = Linter(PolicyCatalog.build(plan_project(load_policies(REPO))))
    inputs = [FileInput(f"q{i}.sql", text) for i, text in enumerate(texts)]
    parse, lint = [], []
    for _ in range(runs):
        started = time.perf_counter()
        for text in texts:
            sqlglot.parse(text, read="duckdb")
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        for item in inputs:
            linter.lint(item)
        lint.append(time.perf_counter() - started)
    return min(parse), min(lint)


if __name__ == "__main__":
    sys.exit(main())
