"""YAML loading that remembers where every key and item came from.

Policies are plain dicts and lists after loading, so pydantic can validate
them; the subclasses below also carry 1-based line numbers, so an error found
later can still point at `path:line`.

>>> doc = load_yaml_text("a: 1\\nb:\\n  - x\\n  - y\\n", "t.yml")
>>> doc.key_lines["b"], doc["b"].item_lines
(2, [3, 4])
>>> line_of(doc, ("b", 1))
4
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from veil.errors import PolicyError, Problem


class LineDict(dict):
    """A mapping that knows its own line and the line of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences record line numbers."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, path: str) -> Any:
    """Parse YAML text; a syntax error becomes a PolicyError at its line."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PolicyError([Problem(path, line, None, f"YAML syntax error: {message}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(path, None, None, f"YAML error: {exc}")]) from None


def line_of(node: Any, loc: Sequence[Any]) -> int | None:
    """The line of the deepest element of `loc` that can be located.

    `loc` is a pydantic-style path: keys for mappings, indexes for lists.
    """
    line = getattr(node, "line", None)
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def format_loc(loc: Sequence[Any]) -> str:
    """`('schema', 2, 'type')` -> `schema[2].type`.

    >>> format_loc(("schema", 2, "data_handling", "masking", "analytics"))
    'schema[2].data_handling.masking.analytics'
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
