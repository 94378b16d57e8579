"""hybridless.yml → `App`: load with line numbers, resolve variables, validate into the model.

A serverless.yml loses its Serverless-only keys first (with a notice for each), before
variables are resolved, so a `${ssm:}` that hybridless cannot resolve in a key it ignores does
not fail the load; `${self:}` still sees the whole file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hybridless.config.loader import load_document
from hybridless.config.serverless import strip_serverless_keys
from hybridless.config.variables import resolve_variables
from hybridless.errors import ConfigError, Problem

if TYPE_CHECKING:
    from hybridless.model import App, Overrides


def load_app(path: Path, overrides: Overrides, environ: Mapping[str, str]) -> App:
    return load_app_with_notices(path, overrides, environ)[0]


def load_app_with_notices(
    path: Path, overrides: Overrides, environ: Mapping[str, str]
) -> tuple[App, list[Problem]]:
    """The `App`, and the notices about Serverless-only keys ignored or carried over (empty
    for a hybridless.yml), each with file, line and key, for the caller to show."""
    options = {
        key: value
        for key, value in (("stage", overrides.stage), ("region", overrides.region))
        if value
    }
    from hybridless.model import build_app  # the model reads documents this package loads

    original = load_document(path)
    kept, notices = strip_serverless_keys(original)
    try:
        document = resolve_variables(kept, options, environ, scope=original)
        return build_app(document, overrides, environ), notices
    except ConfigError as err:
        raise ConfigError(err.problems, notices) from None
