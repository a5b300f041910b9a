"""Reading YAML that nobody trusts.

Every file a user hands the harness goes through :func:`read_yaml_file` or
:func:`parse_yaml_text`. The rules:

* bytes first: at most ``max_bytes``, a regular file, no NUL bytes, UTF-8 only;
* a :class:`yaml.SafeLoader` subclass composes the node tree, refusing nesting
  deeper than ``max_depth`` and more than ``max_nodes`` nodes as it goes;
* before anything is constructed the node tree is checked: aliases may not
  expand the document beyond ``max_expanded_nodes`` (the "billion laughs"),
  may not be recursive, every tag must be one of the plain-data tags (so
  ``!!python/object`` and friends are reported, never run), and no mapping
  may repeat a key;
* only then is plain data built, and any error while building a scalar
  (a 10,000-digit integer, a 13th month) is reported at that scalar.

Every problem becomes a ``FILE:LINE:COL: path: message`` line inside one
:class:`harness.errors.ValidationFailed`; nothing else escapes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor

from harness.errors import ValidationFailed
from harness.loader.document import FILE_PATH, ROOT_PATH, YAML_PATH, YamlDocument, format_problem

_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"  # the "=" key, read as a string
_PLAIN_TAGS = frozenset(tag for tag in SafeConstructor.yaml_constructors if tag is not None)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile file from costing memory or time."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 50_000
    max_expanded_nodes: int = 100_000
    max_problems: int = 50


DEFAULT_LIMITS = Limits()


class _Refused(Exception):
    """Internal: a node-tree check failed at ``node``."""

    def __init__(self, node: yaml.Node, path: str, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.path = path
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that bounds depth and node count while composing."""

    def __init__(self, text: str, limits: Limits) -> None:
        super().__init__(text)
        self._limits = limits
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > self._limits.max_depth:
                raise ComposerError(
                    None, None, f"nesting is deeper than {self._limits.max_depth} levels",
                    self._mark(),
                )
            self._nodes += 1
            if self._nodes > self._limits.max_nodes:
                raise ComposerError(
                    None, None, f"document has more than {self._limits.max_nodes} nodes",
                    self._mark(),
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _mark(self) -> Any:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        return event.start_mark

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError, ArithmeticError) as exc:
            raise ConstructorError(None, None, f"cannot read value: {exc}", node.start_mark) from exc


def read_yaml_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> YamlDocument:
    """Read and parse one file; raise ValidationFailed with located problems."""
    source = str(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            _fail(source, "is a directory, not a YAML file")
        if not stat.S_ISREG(info.st_mode):
            _fail(source, "is not a regular file")
        if info.st_size > limits.max_bytes:
            _fail(source, f"file is {info.st_size} bytes; the limit is {limits.max_bytes} bytes")
        with open(path, "rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        _fail(source, "no such file")
    except PermissionError:
        _fail(source, "permission denied")
    except OSError as exc:
        _fail(source, f"cannot read: {exc.strerror or exc}")
    return parse_yaml_bytes(raw, source, limits)


def parse_yaml_bytes(raw: bytes, source_name: str, limits: Limits = DEFAULT_LIMITS) -> YamlDocument:
    """Check the bytes (size, NULs, UTF-8), then :func:`parse_yaml_text`."""
    if len(raw) > limits.max_bytes:
        _fail(source_name, f"file is larger than the limit of {limits.max_bytes} bytes")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail(source_name, "file is UTF-16; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _byte_position(raw, nul)
        _fail(source_name, "binary file (contains NUL bytes); expected UTF-8 YAML text", line, column)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(raw, exc.start)
        _fail(source_name, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
              line, column)
    return parse_yaml_text(text, source_name, limits)


def parse_yaml_text(text: str, source_name: str, limits: Limits = DEFAULT_LIMITS) -> YamlDocument:
    """Parse one YAML document safely into a :class:`YamlDocument`."""
    if len(text) > limits.max_bytes:
        _fail(source_name, f"document is longer than the limit of {limits.max_bytes} characters")
    if "\x00" in text:
        _fail(source_name, "text contains NUL characters")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, limits)
        root = loader.get_single_node()
        if root is None:
            _fail(source_name, "file is empty (no YAML document)")
        problems = _check_tree(root, limits, source_name)
        if problems:
            raise ValidationFailed(f"{source_name}: invalid YAML", problems)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise ValidationFailed(f"{source_name}: invalid YAML", [_marked(source_name, exc)]) from None
    except yaml.reader.ReaderError as exc:
        line, column = _text_position(text, exc.position)
        message = f"unacceptable character #x{exc.character:04x}: special characters are not allowed"
        _fail(source_name, message, line, column, YAML_PATH)
    except yaml.YAMLError as exc:
        _fail(source_name, f"invalid YAML: {exc}", path=YAML_PATH)
    except RecursionError:
        _fail(source_name, "document is nested too deeply", path=YAML_PATH)
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(source=source_name, data=data, root=root)


def _check_tree(root: yaml.Node, limits: Limits, source: str) -> list[str]:
    """Alias expansion, recursion, tags and duplicate keys, before any construction."""
    try:
        _expanded_size(root, limits, {}, set(), 0, "")
    except _Refused as refused:
        mark = refused.node.start_mark
        return [format_problem(source, mark.line + 1, mark.column + 1, refused.path or YAML_PATH,
                               refused.message)]
    problems: list[str] = []
    for node, path in _walk(root):
        for where, where_path, message in _node_problems(node, path):
            mark = where.start_mark
            problems.append(format_problem(source, mark.line + 1, mark.column + 1, where_path, message))
        if len(problems) >= limits.max_problems:
            problems.append(f"{source}:1:1: {YAML_PATH}: too many problems; stopping here")
            break
    return problems


def _expanded_size(node: yaml.Node, limits: Limits, memo: dict[int, int], active: set[int],
                   depth: int, path: str) -> int:
    """Node count of the document with every alias expanded (memoised on the DAG)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Refused(node, path, "recursive alias: an anchor refers to itself")
    if depth > limits.max_depth:
        raise _Refused(node, path, f"aliases nest the document deeper than {limits.max_depth} levels")
    active.add(key)
    total = 1
    for child, child_path in _children(node, path):
        total += _expanded_size(child, limits, memo, active, depth + 1, child_path)
        if total > limits.max_expanded_nodes:
            raise _Refused(
                node, path,
                f"aliases expand the document beyond {limits.max_expanded_nodes} nodes "
                "(an anchor/alias bomb?); refusing to expand it",
            )
    active.discard(key)
    memo[key] = total
    return total


def _children(node: yaml.Node, path: str) -> Iterator[tuple[yaml.Node, str]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            label = key.value if isinstance(key, yaml.ScalarNode) else "?"
            child_path = f"{path}.{label}" if path else str(label)
            yield key, child_path
            yield value, child_path
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield item, f"{path}.{index}" if path else str(index)


def _walk(root: yaml.Node) -> Iterator[tuple[yaml.Node, str]]:
    """Each distinct node once, with the first path it was reached by."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node, path
        stack.extend(reversed(list(_children(node, path))))


def _node_problems(node: yaml.Node, path: str) -> Iterator[tuple[yaml.Node, str, str]]:
    if node.tag not in _PLAIN_TAGS and node.tag not in (_MERGE_TAG, _VALUE_TAG):
        yield node, path or ROOT_PATH, (
            f"YAML tag {_short_tag(node.tag)!r} is not allowed: only plain data "
            "(mappings, lists, strings, numbers, booleans, null) is accepted"
        )
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if key.tag == _MERGE_TAG:
            continue
        if not isinstance(key, yaml.ScalarNode):
            yield key, path or ROOT_PATH, "mapping keys must be plain scalars, not lists or mappings"
            continue
        key_path = f"{path}.{key.value}" if path else str(key.value)
        ident = (key.tag, key.value)
        if ident in first_line:
            yield key, key_path, f"duplicate key {key.value!r} (first defined on line {first_line[ident]})"
        else:
            first_line[ident] = key.start_mark.line + 1


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _marked(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    parts = [p for p in (exc.context, exc.problem) if p]
    return format_problem(source, line, column, YAML_PATH, ": ".join(parts) or "invalid YAML")


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _text_position(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _fail(source: str, message: str, line: int = 1, column: int = 1, path: str = FILE_PATH) -> NoReturn:
    raise ValidationFailed(f"{source}: {message}", [format_problem(source, line, column, path, message)])
