"""`veil classify`: find the PII of a warehouse or a dbt project's sources and seeds.

Every column gets a classification (veil's PII spectrum), a category (email,
phone, birth date...), a confidence and the evidence: which name rule
matched (`names`), which share of the sampled values passed which validator
(`values`, `validators`: phonenumbers, python-stdnum, ipaddress), the values
winning when they disagree (`decide`). Tables are sampled with bounded
reservoir samples (`sample`); the subject table, its key and the foreign keys
that reach it are found across tables (`subjects`). `veil init` drafts
policies from the same result; `veil classify --check` (`check`) keeps them
honest in CI.

>>> from veil.classify import classify_table
>>> from veil.classify.sample import TableRef, TableSample
>>> from veil.classify.values import ColumnSample
>>> table = TableSample(TableRef("raw", "t"), [ColumnSample("col_17", "VARCHAR", ["+1-202-555-0111", "+33 6 12 34 56 78"])], 2, "warehouse")
>>> [(c.column, c.classification.value, c.category) for c in classify_table(table)]
[('col_17', 'DIRECT_PII', 'phone')]
"""

from veil.classify.run import (
    Classified,
    ColumnVerdict,
    TableResult,
    classify_project,
    classify_samples,
    classify_table,
    classify_warehouse,
)
from veil.classify.sample import DEFAULT_SAMPLE

__all__ = ["DEFAULT_SAMPLE", "Classified", "ColumnVerdict", "TableResult", "classify_project", "classify_samples",
           "classify_table", "classify_warehouse"]
