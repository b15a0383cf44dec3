"""Make a deletion physical: rewrite a DuckDB file so deleted bytes are gone.

`DELETE` + `CHECKPOINT` + `VACUUM` leave the deleted strings' bytes in the
file (DESIGN.md, facts measured here); `COPY FROM DATABASE` into a new file
writes only live rows. The new file replaces the old one in one rename, and
the old WAL goes with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from veil.errors import VeilError


def rewrite_database(path: Path) -> None:
    """Replace `path` by a fresh copy of its live contents (no other connection may be open)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.rewrite")
    for leftover in (temp, Path(f"{temp}.wal")):
        leftover.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    try:
        with duckdb.connect(str(path)) as con:
            source = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute("CHECKPOINT")
            con.execute(f"ATTACH '{temp.as_posix()}' AS veil_rewrite")
            con.execute(f'COPY FROM DATABASE "{source}" TO veil_rewrite')
            con.execute("DETACH veil_rewrite")
    except duckdb.Error as exc:
        temp.unlink(missing_ok=True)
        raise VeilError(f"could not rewrite {path} to make the erasure physical: {exc}") from None
    os.chmod(temp, mode)
    os.replace(temp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)
