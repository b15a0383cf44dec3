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

from collections.abc import Hashable, Sequence
from typing import Any

import yaml

from veil.errors import PolicyError, Problem
from veil.policy.limits import MAX_DEPTH, MAX_ECHO, MAX_MESSAGE, MAX_NODES, clip, echo


class LineDict(dict):
    """A mapping that knows its own line and the line of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _InputError(yaml.MarkedYAMLError):
    """Well-formed YAML that veil refuses: beyond a limit, or a value that cannot be built."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences record line numbers, within limits.

    Nesting deeper than MAX_DEPTH is refused while scanning (before any
    recursion), and a document whose values, aliases expanded, exceed
    MAX_NODES or MAX_DEPTH while composing (before anything is built).
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def _refuse(self, message: str, mark: Any) -> None:
        raise _InputError(None, None, message, mark)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:   # noqa: N803 - PyYAML's name
        if self.flow_level >= MAX_DEPTH:
            self._refuse(f"nested deeper than {MAX_DEPTH} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH and self.indent < column:
            self._refuse(f"nested deeper than {MAX_DEPTH} levels", self.get_mark())
        return super().add_indent(column)

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                self._refuse(f"nested deeper than {MAX_DEPTH} levels", mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            self._aliases += 1
            if not hasattr(node, "veil_size"):
                self._refuse("an alias refers to a node that contains it", mark)
        else:
            if isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            node.veil_size = 1 + sum(child.veil_size for child in children)
            node.veil_depth = 1 + max((child.veil_depth for child in children), default=0)
        if node.veil_size > MAX_NODES:
            why = "YAML aliases expand it to" if self._aliases else "it holds"
            self._refuse(f"document too large: {why} more than {MAX_NODES} values", mark)
        if node.veil_depth > MAX_DEPTH:
            self._refuse(f"nested deeper than {MAX_DEPTH} levels (YAML aliases expanded)", mark)
        return node

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:   # e.g. `2024-13-01`, a 5000-digit int
            raise _InputError(None, None, f"cannot read this value: {clip(str(exc), MAX_ECHO)}",
                              node.start_mark) from None
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:   # a `"\\ud800"` escape: a lone surrogate, which no file can hold
                raise _InputError(None, None, f"not valid Unicode: {echo(value)} holds a lone surrogate",
                                  node.start_mark) from None
        return value


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise _InputError(
                None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {echo(key)}", key_node.start_mark
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


def _problem(path: str, line: int | None, message: str) -> PolicyError:
    return PolicyError([Problem(path, line, None, clip(message, MAX_MESSAGE))])


def load_yaml_text(text: str, path: str) -> Any:
    """Parse YAML text; a syntax error becomes a PolicyError at its line.

    An empty document (no content, or only comments) is None. Input beyond
    the limits of `veil.policy.limits` is refused with a PolicyError too.
    """
    loader = None
    try:
        loader = _LineLoader(text)
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        prefix = "" if isinstance(exc, _InputError) else "YAML syntax error: "
        raise _problem(path, line, prefix + message) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        what = "a NUL byte (a binary file?)" if exc.character in (0, "\0") else \
            f"the control character U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise _problem(path, line, f"not text: {what}, which YAML does not allow") from None
    except yaml.YAMLError as exc:
        raise _problem(path, None, f"YAML error: {exc}") from None
    except RecursionError:
        raise _problem(path, None, f"too deeply nested (more than {MAX_DEPTH} levels)") from None
    except MemoryError:
        raise _problem(path, None, "too large to load") from None
    finally:
        if loader is not None:
            loader.dispose()


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
