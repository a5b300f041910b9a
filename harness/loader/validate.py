"""From a parsed document to a pydantic model, with every problem located.

:func:`load_model` is the one entry point the rest of the harness uses for
file formats. Pydantic's errors are mapped back to the YAML nodes they came
from, reworded where pydantic's own words do not help (an unknown key names
the keys that would have been valid), and raised together as one
:class:`harness.errors.ValidationFailed`.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.errors import ValidationFailed
from harness.loader.document import YamlDocument
from harness.loader.yaml_safe import DEFAULT_LIMITS, Limits, read_yaml_file

M = TypeVar("M", bound=BaseModel)

_SCALARS = (str, int, float, bool, type(None))


def validate_document(
    document: YamlDocument,
    model: type[M],
    context: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> M:
    """Validate a parsed document into ``model``; raise ValidationFailed with located problems."""
    try:
        return model.model_validate(document.data, context=dict(context) if context else None)
    except ValidationError as exc:
        located = [_problem(document, model, error) for error in exc.errors(include_url=False)]
        problems = [line for _, line in sorted(located, key=lambda item: item[0])]
        if len(problems) > limits.max_problems:
            more = len(problems) - limits.max_problems
            tail = f"{document.source}:1:1: (file): ... and {more} more problems"
            problems = [*problems[: limits.max_problems], tail]
        raise ValidationFailed(f"{document.source}: {len(problems)} problem(s)", problems) from None


def load_model(path: Path, model: type[M], limits: Limits = DEFAULT_LIMITS) -> M:
    """Read ``path`` safely and validate it into ``model``.

    Raises :class:`ValidationFailed` whose ``problems`` are lines
    ``FILE:LINE:COL: dotted.path: message``; never anything else for bad input.
    """
    return validate_document(read_yaml_file(path, limits), model, limits=limits)


def load_models(paths: Iterable[Path], model: type[M], limits: Limits = DEFAULT_LIMITS) -> list[M]:
    """Load every file; if any fails, raise one ValidationFailed listing the problems of all of them."""
    loaded: list[M] = []
    problems: list[str] = []
    for path in paths:
        try:
            loaded.append(load_model(path, model, limits))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s)", problems)
    return loaded


def _problem(
    document: YamlDocument, model: type[BaseModel], error: ErrorDetails
) -> tuple[tuple[int, int], str]:
    """The problem line for one pydantic error, with its (line, column) for sorting."""
    raw_loc = error["loc"]
    loc, _ = _walk_loc(model, raw_loc)
    kind = error["type"]
    if kind == "extra_forbidden" and loc:
        where = document.locate(loc, at_key=True)
        message = _unknown_key(str(loc[-1]), _parent_fields(model, raw_loc))
        return (where.line, where.column), document.problem(loc, message, at_key=True)
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if kind == "missing":
        message = "required key is missing"
    elif kind not in ("model_type", "dict_type", "list_type") and isinstance(error.get("input"), _SCALARS):
        got = _short_repr(error["input"])
        if got not in message:
            message = f"{message} (got {got})"
    where = document.locate(loc)
    return (where.line, where.column), document.problem(loc, message)


def _unknown_key(key: str, known_fields: set[str]) -> str:
    known = sorted(known_fields - {key})
    if not known:
        return f"unknown key {key!r}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; expected one of: {', '.join(known)}"


def _parent_fields(model: type[BaseModel], loc: Sequence[str | int]) -> set[str]:
    _, candidates = _walk_loc(model, loc[:-1])
    names: set[str] = set()
    for candidate in candidates:
        for found in _expand(candidate):
            if isinstance(found, type) and issubclass(found, BaseModel):
                for name, field in found.model_fields.items():
                    names.add(field.alias or name)
    return names


def _walk_loc(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[list[str | int], list[Any]]:
    """Follow ``loc`` through the model's types (best effort through lists, dicts, unions).

    Returns the location without pydantic's own parts (a tagged union's tag,
    ``function-after[...]``) and the candidate types at its end.
    """
    candidates: list[Any] = [model]
    kept: list[str | int] = []
    for part in loc:
        tagged = _tagged(candidates, part)
        if len(tagged) == 1 and _model_count(candidates) > 1:
            candidates = tagged  # the part is a tagged union's tag, not a key in the file
            continue
        following: list[Any] = []
        for candidate in candidates:
            following.extend(_step(candidate, part))
        if following:
            candidates = following
            kept.append(part)
        elif tagged:
            candidates = tagged
        elif "[" not in str(part):
            kept.append(part)
    return kept, candidates


def _model_count(candidates: list[Any]) -> int:
    return sum(
        1 for c in candidates for f in _expand(c) if isinstance(f, type) and issubclass(f, BaseModel)
    )


def _tagged(candidates: list[Any], tag: str | int) -> list[Any]:
    """Union members whose Literal-typed field accepts ``tag`` (a discriminated union's tag)."""
    members: list[Any] = []
    for candidate in candidates:
        for found in _expand(candidate):
            if isinstance(found, type) and issubclass(found, BaseModel):
                for field in found.model_fields.values():
                    annotation = field.annotation
                    if typing.get_origin(annotation) is typing.Literal and tag in typing.get_args(annotation):
                        members.append(found)
                        break
    return members


def _step(annotation: Any, part: str | int) -> list[Any]:
    result: list[Any] = []
    for candidate in _expand(annotation):
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            field = candidate.model_fields.get(str(part))
            if field is not None:
                result.append(field.annotation)
        elif origin in (list, tuple, set, frozenset, Sequence) and isinstance(part, int) and args:
            result.append(args[0])
        elif origin in (dict, Mapping) and len(args) == 2:
            result.append(args[1])
    return result


def _expand(annotation: Any) -> list[Any]:
    """Unwrap Annotated, Optional and unions into their members."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _expand(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members: list[Any] = []
        for arg in typing.get_args(annotation):
            members.extend(_expand(arg))
        return members
    return [annotation]


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
