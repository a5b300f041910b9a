"""Read docker-compose.yml the way Compose does, without an engine.

Interpolation follows the Compose specification: ``${VAR}``, ``${VAR:-default}``
(default when unset or empty), ``${VAR-default}`` (when unset), ``${VAR:?message}``
(error when unset or empty) and ``$$`` for a literal ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.paths import repo_root

COMPOSE_FILE = repo_root() / "docker-compose.yml"

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _VAR.sub(replace, text)


def _walk(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def raw_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def load_compose(env: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with every variable interpolated from ``env`` (merge keys resolved by PyYAML)."""
    data = _walk(raw_compose(path), env)
    assert isinstance(data, dict)
    return data


def volume_parts(spec: str) -> tuple[str, str, str]:
    """``SRC:DST[:MODE]`` of an interpolated short-syntax volume."""
    parts = spec.split(":")
    if len(parts) == 2:
        return parts[0], parts[1], "rw"
    source, target, mode = parts
    return source, target, mode


def resolve_source(source: str, base: Path = COMPOSE_FILE.parent) -> Path | None:
    """A bind mount's host path (relative to the compose file), or None for a named volume."""
    if source.startswith((".", "/")):
        return (base / source).resolve()
    return None
