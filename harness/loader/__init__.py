"""Safe YAML loading with locations: ``load_model(path, Model)``.

Untrusted files are read with a bounded :class:`yaml.SafeLoader`, checked
(size, encoding, tags, alias expansion, duplicate keys) and validated by
pydantic; every problem is reported as ``FILE:LINE:COL: dotted.path: message``
inside one :class:`harness.errors.ValidationFailed`.
"""

from harness.loader.document import YamlDocument, format_problem
from harness.loader.validate import load_model, load_models, validate_document
from harness.loader.yaml_safe import DEFAULT_LIMITS, Limits, parse_yaml_bytes, parse_yaml_text, read_yaml_file

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "YamlDocument",
    "format_problem",
    "load_model",
    "load_models",
    "parse_yaml_bytes",
    "parse_yaml_text",
    "read_yaml_file",
    "validate_document",
]
