"""Versioned ML training datasets, traceable to the privacy exclusions applied.

`create_snapshot` writes `<out>/<audience>-<UTC stamp>/`: a Parquet file per
audience model and `manifest.json` (column handling, consent state, deletion
registry high-water mark, subject digests, file hashes). `check_snapshot`
says whether any subject in it has since been erased, and whether any file
changed: the signal to retrain. `veil erase` rewrites a version without the
erased subjects' rows and lists them as `retrain_needed` (`erase.erase_version`).

    folder = create_snapshot(plan, Path("warehouse.duckdb"), "ml", Path("snapshots"),
                             relations=PhysicalRelations.for_project(Path(".")))
    check = check_snapshot(plan, Path("warehouse.duckdb"), folder)
    check.erased_subjects, check.changed_files    # both empty: clean
"""

from veil.snapshot.check import SnapshotCheck, check_snapshot, format_check
from veil.snapshot.create import create_snapshot, format_snapshot
from veil.snapshot.registry import subject_digest

__all__ = ["SnapshotCheck", "check_snapshot", "create_snapshot", "format_check", "format_snapshot",
           "subject_digest"]
