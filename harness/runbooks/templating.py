"""Step fields are jinja2 templates rendered in a sandbox.

The environment is :class:`jinja2.sandbox.SandboxedEnvironment` with
:class:`jinja2.StrictUndefined`: a template that touches internals
(``''.__class__``) or names a label the alert does not carry fails the step
instead of rendering something surprising. Alert labels and annotations are
*values*, never templates, so a label carrying ``{{ ... }}`` stays inert text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from harness.errors import RunbookError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

# Keys of a dumped step that are identifiers, never templates.
_LITERAL_KEYS = frozenset({"id", "kind"})


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Render one template string; raise :class:`RunbookError` on any template problem."""
    if "{" not in template:
        return template
    try:
        return _ENV.from_string(template).render(dict(variables))
    except TemplateError as exc:  # SecurityError and UndefinedError are TemplateErrors
        raise RunbookError(f"template {template!r} failed: {type(exc).__name__}: {exc}") from exc


def render_tree(value: Any, variables: Mapping[str, Any], key: str | None = None) -> Any:
    """Render every string leaf of a JSON-like tree (dict keys are left as they are)."""
    if isinstance(value, str):
        return value if key in _LITERAL_KEYS else render(value, variables)
    if isinstance(value, dict):
        return {k: render_tree(v, variables, k) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, variables) for v in value]
    return value
