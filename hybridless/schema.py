"""The JSON Schema of hybridless.yml, shipped with the package.

Editors (yaml-language-server) use it for completion, hover text and checks as the file is
written; `hybridless schema` prints it. Its property names are kept equal to
`hybridless.model.keys` by a test, so the editor and the tool accept the same keys.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def schema() -> dict[str, Any]:
    """The schema (draft-07) as a fresh dict the caller may change."""
    text = resources.files("hybridless").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
