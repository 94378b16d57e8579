"""hybridless.yml → `App`: load with line numbers, resolve variables, validate into the model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hybridless.config.loader import load_document
from hybridless.config.variables import resolve_variables
from hybridless.model import App, Overrides, build_app


def load_app(path: Path, overrides: Overrides, environ: Mapping[str, str]) -> App:
    options = {
        key: value
        for key, value in (("stage", overrides.stage), ("region", overrides.region))
        if value
    }
    document = resolve_variables(load_document(path), options, environ)
    return build_app(document, overrides, environ)
