"""`veil classify` output: a table per table for people, JSON or YAML for programs.

The JSON is a contract: `{"columns": [{"table": "schema.table", "column": ...,
"classification": "DIRECT_PII", "category": "email", "confidence": 0.97,
"evidence": "..."}]}`, one entry per column, tables and columns in order.

>>> from veil.classify.run import ColumnVerdict
>>> from veil.policy.models import Classification
>>> row = ColumnVerdict("raw.users", "email", "VARCHAR", Classification.DIRECT_PII, "email", 0.99, "name: ...")
>>> print(render_json([row]))
{"columns": [{"table": "raw.users", "column": "email", "classification": "DIRECT_PII", "category": "email", "confidence": 0.99, "evidence": "name: ..."}]}
"""

from __future__ import annotations

import json
from collections import Counter

import yaml

from veil.classify.run import Classified, ColumnVerdict
from veil.policy.models import Classification

FORMATS = ("human", "json", "yaml")


def render_json(columns: list[ColumnVerdict]) -> str:
    return json.dumps({"columns": [c.as_json() for c in columns]}, ensure_ascii=False)


def render_yaml(columns: list[ColumnVerdict]) -> str:
    return yaml.safe_dump({"columns": [c.as_json() for c in columns]}, sort_keys=False, allow_unicode=True, width=120)


def render_human(result: Classified) -> str:
    lines: list[str] = []
    for table in result.tables:
        sample = table.sample
        origin = {"warehouse": f"{sample.rows} rows sampled", "csv": f"{sample.rows} rows sampled from the seed file",
                  "names": "no data: names only"}[sample.origin]
        lines.append(f"{table.ref.label}: {origin}")
        if not table.columns:
            lines.append("  (no columns)")
        width = max((len(c.column) for c in table.columns), default=6)
        for c in table.columns:
            lines.append(f"  {c.column:<{width}}  {c.classification.value:<13}  {c.category:<19}  "
                         f"{c.confidence:.2f}  {c.evidence}")
        lines.append("")
    counts = Counter(c.classification for c in result.columns())
    summary = ", ".join(f"{counts[k]} {k.value}" for k in Classification if counts[k])
    lines.append(f"{len(result.columns())} columns in {len(result.tables)} tables: {summary or 'none'}")
    subjects = result.subjects
    if subjects.table is not None:
        lines.append(f"subject: {subjects.table.key}.{subjects.key} ({subjects.why})")
    for kind, found in (("consent log", subjects.consent), ("deletion registry", subjects.registry)):
        if found is not None:
            lines.append(f"{kind}: {found.table.label}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def render(result: Classified, output_format: str) -> str:
    if output_format == "json":
        return render_json(result.columns())
    if output_format == "yaml":
        return render_yaml(result.columns()).rstrip("\n")
    return render_human(result)
