"""Field types shared by the scenario models: identifiers, paths, URLs, ratios."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from harness.scenarios.durations import FiniteFloat
from harness.scenarios.hosts import host_of_url

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
ALERT_NAME_PATTERN = r"^[A-Za-z_:][A-Za-z0-9_:]{0,127}$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"
MAX_FAULT_SECONDS = 3600.0



def _matching(pattern: str, description: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"must be {description}")
        return value

    return AfterValidator(check)


Slug = Annotated[str, _matching(SLUG_PATTERN, "a slug: lower-case letters, digits and inner dashes, "
                                              "at most 63 characters (e.g. http-5xx-spike)")]
Identifier = Annotated[str, _matching(ID_PATTERN, "an id: lower-case letters, digits, '_' and '-', "
                                                  "at most 64 characters")]
Tag = Annotated[str, _matching(r"^[a-z0-9][a-z0-9_.\-]{0,63}$", "a tag (lower-case letters, digits, _ . -)")]
AlertName = Annotated[str, _matching(ALERT_NAME_PATTERN, "an alert name (letters, digits, '_', ':')")]
EnvName = Annotated[str, _matching(ENV_NAME_PATTERN, "an environment variable name (e.g. DEMO_ADMIN_TOKEN)")]
HostName = Annotated[str, _matching(r"^[A-Za-z0-9_.:\[\]-]{1,253}$", "a host name or IP address")]
UrlPath = Annotated[str, _matching(r"^/\S{0,2047}$", "a path starting with '/' (no spaces)")]
Ratio = Annotated[FiniteFloat, Field(ge=0.0, le=1.0)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or host_of_url(value) is None:
        raise ValueError("must be an http:// or https:// URL with a host")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        raise ValueError("credentials in URLs are not allowed; use a token from the environment")
    return value.rstrip("/")


def one_of(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [name for name in names if getattr(model, name) is not None]
    if len(given) != 1:
        raise ValueError(f"write exactly one of: {', '.join(names)}" + (f" (got {', '.join(given)})"
                                                                       if given else ""))
