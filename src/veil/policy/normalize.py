"""Synonyms, rewritten to one canonical shape before validation.

- `columns:` is `schema:` in a table file;
- `masking_in_<purpose>: s` inside `data_handling` is `masking: {<purpose>: s}`;
- a strategy written by name (`hash`) is `{strategy: hash}`, and a mapping's
  keys other than `strategy` are its options.

Line numbers survive the rewrite, so errors still point at what was written.

>>> from veil.policy.yaml_lines import load_yaml_text
>>> doc = load_yaml_text("table: t\\ncolumns:\\n  - name: e\\n    data_handling:\\n      masking_in_analytics: hash\\n", "t.yml")
>>> table, problems = normalize_table(doc, "t.yml")
>>> dict(table["schema"][0]["data_handling"]["masking"]["analytics"])
{'strategy': 'hash', 'options': {}}
"""

from __future__ import annotations

from typing import Any

from veil.errors import Problem
from veil.policy.limits import echo
from veil.policy.yaml_lines import LineDict, LineList

MASKING_PREFIX = "masking_in_"


def _copy(source: LineDict, items: dict[Any, Any], lines: dict[Any, int]) -> LineDict:
    result = LineDict(items)
    result.line = source.line
    result.key_lines = lines
    return result


def _rename(doc: LineDict, old: str, new: str) -> LineDict:
    """`doc` with key `old` renamed to `new`, order and lines kept."""
    items = {(new if k == old else k): v for k, v in doc.items()}
    lines = {(new if k == old else k): line for k, line in doc.key_lines.items()}
    return _copy(doc, items, lines)


def _masking_rule(value: Any) -> Any:
    """`hash` -> {strategy: hash}; {strategy: fpe, keep_last: 4} -> options split off."""
    if isinstance(value, str):
        rule = LineDict(strategy=value, options={})
        rule.line, rule.key_lines = 0, {}
        return rule
    if isinstance(value, LineDict) and "strategy" in value and "options" not in value:
        options = _copy(value, {k: v for k, v in value.items() if k != "strategy"}, dict(value.key_lines))
        return _copy(value, {"strategy": value["strategy"], "options": options}, dict(value.key_lines))
    return value


def _normalize_handling(handling: Any, path: str, where: str) -> tuple[Any, list[Problem]]:
    if not isinstance(handling, LineDict):
        return handling, []
    problems: list[Problem] = []
    masking = handling.get("masking", LineDict())
    if not isinstance(masking, LineDict):
        return handling, problems
    rules = {purpose: _masking_rule(rule) for purpose, rule in masking.items()}
    rule_lines = dict(getattr(masking, "key_lines", {}))
    items, lines = {}, {}
    for key, value in handling.items():
        if isinstance(key, str) and key.startswith(MASKING_PREFIX):
            purpose = key[len(MASKING_PREFIX):]
            if purpose in rules:
                problems.append(Problem(path, handling.key_lines[key], f"{where}.{key}",
                                        f"masking for {echo(purpose)} is given twice"))
            rules[purpose] = _masking_rule(value)
            rule_lines[purpose] = handling.key_lines[key]
        elif key != "masking":
            items[key], lines[key] = value, handling.key_lines[key]
    if rules:
        merged = _copy(masking, rules, rule_lines)
        merged.line = merged.line or handling.line
        items["masking"] = merged
        lines["masking"] = handling.key_lines.get("masking", min(rule_lines.values(), default=handling.line))
    return _copy(handling, items, lines), problems


def normalize_table(doc: Any, path: str) -> tuple[Any, list[Problem]]:
    """Rewrite a table file's synonyms; returns the document and any conflicts."""
    if not isinstance(doc, LineDict):
        return doc, []
    problems: list[Problem] = []
    if "columns" in doc:
        if "schema" in doc:
            problems.append(Problem(path, doc.key_lines["columns"], "columns",
                                    "give the columns once: `schema:` or its synonym `columns:`, not both"))
            doc = _copy(doc, {k: v for k, v in doc.items() if k != "columns"}, dict(doc.key_lines))
        else:
            doc = _rename(doc, "columns", "schema")
    columns = doc.get("schema")
    if isinstance(columns, LineList):
        rewritten = LineList()
        rewritten.line, rewritten.item_lines = columns.line, columns.item_lines
        for index, column in enumerate(columns):
            if isinstance(column, LineDict) and "data_handling" in column:
                handling, found = _normalize_handling(
                    column["data_handling"], path, f"schema[{index}].data_handling")
                problems += found
                column = _copy(column, {**column, "data_handling": handling}, dict(column.key_lines))
            rewritten.append(column)
        doc = _copy(doc, {**doc, "schema": rewritten}, dict(doc.key_lines))
    return doc, problems
