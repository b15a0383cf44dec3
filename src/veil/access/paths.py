"""Where access reports go, and how the audit trail names them without the subject id.

The default file name holds the subject id (`access/42-<time>.json`), and the
trail must not: it records the path with the id replaced by `<subject>`, a
template `veil erase` turns back into a glob pattern (then reads each file
it finds to see whom it is about, see `write.report_subject`).

>>> template = audited_path(Path("/p/access/42-20261101T093000Z.json"), Path("/p"), "42")
>>> template
'/p/access/<subject>-20261101T093000Z.json'
>>> path_pattern(template), temp_pattern(template)
('/p/access/*-20261101T093000Z.json', '/p/access/.*-20261101T093000Z.json.*.tmp')
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from veil.access.write import safe_name

SUBJECT_TOKEN = "<subject>"


def hide_subject(text: str, subject: str) -> str:
    """`text` with every occurrence of the subject id (as given, and as a file-name part) replaced by `<subject>`.

    Every one, even inside a word: better a file name hidden too much than the id shown.

    >>> hide_subject("exports/42/report42.csv", "42"), hide_subject("access/7-20260101T000000Z.json", "7")
    ('exports/<subject>/report<subject>.csv', 'access/<subject>-20260101T000000Z.json')
    """
    tokens = sorted({subject, safe_name(subject)}, key=len, reverse=True)
    return re.sub("|".join(map(re.escape, tokens)), SUBJECT_TOKEN, text)


def audited_file_name(out: Path, project_dir: Path, subject: str) -> str:
    """The report's path for the audit record: relative to the project, the subject id replaced.

    >>> audited_file_name(Path("proj/access/42-20261101T093000Z.json"), Path("proj"), "42")
    'access/<subject>-20261101T093000Z.json'
    """
    try:
        shown = str(out.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        shown = str(out)
    return hide_subject(shown, subject)


def audited_path(out: Path, project_dir: Path, subject: str) -> str:
    """The report's absolute path for the audit record, the subject id replaced by `<subject>`.

    Inside the project, only the part below the project is searched for the id.

    >>> audited_path(Path("/exports/7/report.json"), Path("/p"), "7")
    '/exports/<subject>/report.json'
    """
    out, project_dir = Path(out).resolve(), Path(project_dir).resolve()
    try:
        return str(project_dir / hide_subject(str(out.relative_to(project_dir)), subject))
    except ValueError:
        return hide_subject(str(out), subject)


def path_pattern(template: str) -> str:
    """The glob pattern of the files an audited path may name (`<subject>` is any text)."""
    return glob.escape(template).replace(SUBJECT_TOKEN, "*")


def temp_pattern(template: str) -> str:
    """The glob pattern of the temp files `write_access_report` makes on the way (`.<name>.<random>.tmp`)."""
    path = Path(template)
    return path_pattern(str(path.with_name(f".{path.name}"))) + ".*.tmp"
