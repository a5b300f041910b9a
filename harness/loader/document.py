"""A parsed YAML document that remembers where every value was written.

:class:`YamlDocument` keeps the composed node tree beside the plain data built
from it, so an error found later (by pydantic, or by a cross-file check) can be
reported as ``FILE:LINE:COL: dotted.path: message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

Loc = Sequence[str | int]

FILE_PATH = "(file)"
"""Path shown for problems of the file as a whole (unreadable, too large, not UTF-8)."""
YAML_PATH = "(yaml)"
"""Path shown for YAML syntax problems, where no key path is known yet."""
ROOT_PATH = "(root)"
"""Path shown for problems of the document's top level."""

_MAX_MESSAGE = 400


def one_line(text: str) -> str:
    """Collapse a message to one line (a problem is always exactly one line)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


def format_problem(source: str, line: int, column: int, path: str, message: str) -> str:
    """``FILE:LINE:COL: path: message`` with 1-based line and column."""
    return f"{one_line(source)}:{line}:{column}: {one_line(path) or ROOT_PATH}: {one_line(message)}"


def dotted(loc: Loc) -> str:
    """``('steady_state', 0, 'query')`` -> ``steady_state.0.query``."""
    return ".".join(str(part) for part in loc) or ROOT_PATH


@dataclass(frozen=True)
class Located:
    """Where a pydantic location points in the file."""

    line: int
    column: int
    path: str


@dataclass(frozen=True)
class YamlDocument:
    """Plain data (dicts, lists, scalars) plus the node tree it came from."""

    source: str
    data: Any
    root: yaml.Node

    def locate(self, loc: Loc, *, at_key: bool = False) -> Located:
        """Map a pydantic error location to the closest node written in the file.

        Parts that name no node in the middle of ``loc`` (a union member tag,
        ``function-after[...]``) are pydantic's own and are dropped; parts after
        the last node found (a missing key) stay in the dotted path, and the
        position is that of the deepest node found. ``at_key`` points at the
        key rather than its value (for unknown keys).
        """
        node: yaml.Node = self.root
        key_node: yaml.Node | None = None
        path: list[str] = []
        tail: list[str] = []
        for part in loc:
            child, child_key = _child(node, part)
            if child is None:
                text = str(part)
                if "[" not in text and "(" not in text:
                    tail.append(text)
                continue
            tail = []
            path.append(str(part))
            node, key_node = child, child_key
        path.extend(tail)
        mark = node.start_mark
        if at_key and key_node is not None and not tail:
            mark = key_node.start_mark
        return Located(mark.line + 1, mark.column + 1, ".".join(path) or ROOT_PATH)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> str:
        """One problem line for ``loc`` in this document."""
        where = self.locate(loc, at_key=at_key)
        return format_problem(self.source, where.line, where.column, where.path, message)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The value node (and key node) that ``part`` selects below ``node``."""
    if isinstance(node, yaml.MappingNode):
        found: tuple[yaml.Node | None, yaml.Node | None] = (None, None)
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                found = (value, key)  # the last one wins, as in construction
        return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, None
    return None, None
