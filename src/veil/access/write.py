"""Write an access report: JSON, or one flat CSV of `section,table,row,field,value`.

The file holds personal data: it is created 0600 and replaced atomically.

>>> report = {"subject": "42", "generated_at": "2026-11-01T00:00:00+00:00", "as_of": "2026-11-01T00:00:00+00:00",
...           "tool_version": "0.1.0", "data_rows": 1, "consent": None, "erasure": None, "audiences": [],
...           "tables": [{"table": "users", "retention": {"days": None}, "rows": [{"values": {"email": "a@b.example"},
...                                                                               "retention": None}]}]}
>>> [line for line in csv_lines(report) if line[0] == "tables" and line[2] == 0]
[('tables', 'users', 0, 'email', 'a@b.example')]
>>> default_path(Path("proj"), "42", "csv", datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc))
PosixPath('proj/access/42-20261101T093000Z.csv')

A report file says whom it is about, whatever its name (`veil erase` reads it):

>>> import tempfile
>>> out = write_access_report({"subject": "42", "tables": []}, Path(tempfile.mkdtemp()) / "x.json", "json")
>>> report_subject(out), report_subject(Path("/nonexistent.json"))
('42', None)
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from veil.errors import UsageError
from veil.keyring.files import write_private_file

FORMATS = ("json", "csv")
CSV_HEADER = ("section", "table", "row", "field", "value")
ACCESS_DIR = "access"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
JSON_START = b'{\n  "subject": '           # render_report writes `subject` first
CSV_START = (",".join(CSV_HEADER) + "\n").encode("utf-8")


def safe_name(subject: str) -> str:
    """The subject id as a file-name part: anything but letters, digits, `.`, `_`, `-` becomes `_`."""
    return _UNSAFE.sub("_", subject).lstrip(".") or "_"


def default_path(project_dir: Path, subject: str, fmt: str, now: datetime | None = None) -> Path:
    """`<project>/access/<subject>-<UTC timestamp>.<fmt>`."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(project_dir) / ACCESS_DIR / f"{safe_name(subject)}-{stamp}.{fmt}"


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted field, scalar) pairs; list items are numbered."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        yield prefix, value
        return
    for key, item in items:
        yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))


def csv_lines(report: dict[str, Any]) -> Iterator[tuple[str, str, Any, str, Any]]:
    """One (section, table, row, field, value) per value of the report."""
    for field in ("subject", "generated_at", "as_of", "tool_version", "data_rows"):
        yield "report", "", "", field, report[field]
    for table in report["tables"]:
        name = table["table"]
        for field, value in _flatten({k: v for k, v in table.items() if k not in {"table", "rows"}}):
            yield "tables", name, "", field, value
        for index, row in enumerate(table["rows"]):
            for field, value in _flatten(row["values"]):
                yield "tables", name, index, field, value
            for field, value in _flatten(row["retention"] or {}, "retention"):
                yield "tables", name, index, field, value
    for section in ("consent", "erasure"):
        block = report[section]
        if block is None:
            continue
        for key, value in block.items():
            if isinstance(value, list):
                for index, record in enumerate(value):
                    for field, item in _flatten(record):
                        yield f"{section}.{key}", "", index, field, item
            else:
                yield section, "", "", key, value
    for entry in report["audiences"]:
        columns = {c["column"]: {"handling": c["handling"], "reason": c["reason"]} for c in entry["columns"]}
        for field, value in _flatten({**{k: v for k, v in entry.items() if k not in {"model", "table", "columns"}},
                                      "columns": columns}):
            yield "audiences", entry["table"], entry["model"], field, value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_report(report: dict[str, Any], fmt: str) -> bytes:
    """The file's bytes, UTF-8."""
    if fmt == "json":
        return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(tuple(_cell(v) for v in line) for line in csv_lines(report))
        return buffer.getvalue().encode("utf-8")
    raise UsageError(f"unknown access report format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _csv_subject(text: str) -> str | None:
    rows = csv.reader(io.StringIO(text))
    if next(rows, None) != list(CSV_HEADER):
        return None
    first = next(rows, None)
    return first[4] if first and first[:4] == ["report", "", "", "subject"] and len(first) == 5 else None


def report_subject(path: Path) -> str | None:
    """The subject id an access report file is about, as the file says; None for any other file.

    Only files that start like a report (JSON with `subject` first, or the CSV header) are read whole.
    """
    try:
        with open(path, "rb") as handle:
            start = handle.read(max(len(JSON_START), len(CSV_START)))
            if not (start.startswith(JSON_START) or start.startswith(CSV_START)):
                return None
            text = (start + handle.read()).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith(CSV_START.decode()):
        return _csv_subject(text)
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        return None
    subject = report.get("subject") if isinstance(report, dict) else None
    return subject if isinstance(subject, str) and isinstance(report.get("tables"), list) else None


def write_access_report(report: dict[str, Any], out: Path, fmt: str) -> Path:
    """Write the report to `out` (mode 0600, atomically) and return the path."""
    data = render_report(report, fmt)
    out = Path(out)
    write_private_file(out, data, what="access report")
    return out
