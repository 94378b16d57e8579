"""A deploy's results in the forms later steps read: GitHub step outputs, a GitLab dotenv file,
a JSON file.

Each stack output is also published under its own name, so a workflow writes
`steps.deploy.outputs.ServiceEndpoint` instead of parsing JSON, wherever the name is valid
there and does not shadow one of the tool's own keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from actions_toolkit.file_command import prepare_key_value_message

GITHUB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
DOTENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# GitLab's defaults for artifacts:reports:dotenv; a larger file fails the job's artifact upload.
DOTENV_MAX_VARIABLES = 20
DOTENV_MAX_BYTES = 5 * 1024


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "" if value is None else str(value)


def step_outputs(fixed: Mapping[str, Any], stack_outputs: Mapping[str, str]) -> dict[str, str]:
    """The tool's own outputs, then every stack output whose name GitHub accepts."""
    values = {key: _text(value) for key, value in fixed.items()}
    for key, value in sorted(stack_outputs.items()):
        if GITHUB_NAME.match(key) and key not in values:
            values[key] = str(value)
    return values


def github_output_text(values: Mapping[str, str]) -> str:
    """Heredoc form with a random delimiter, so any value (JSON, several lines) is safe."""
    return "".join(prepare_key_value_message(key, value) + "\n" for key, value in values.items())


def dotenv_values(
    fixed: Mapping[str, Any], stack_outputs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(variables to write, names left out). The tool's values come as HYBRIDLESS_<KEY>, stack
    outputs under their own names; anything over GitLab's limits, or holding a line break,
    is left out and named so the user hears about it."""
    chosen: dict[str, str] = {}
    left_out: list[str] = []
    candidates = [
        ("HYBRIDLESS_" + key.upper().replace("-", "_"), _text(value))
        for key, value in fixed.items()
    ]
    candidates += sorted(stack_outputs.items())
    size = 0
    for name, value in candidates:
        line = f"{name}={value}\n"
        if (
            not DOTENV_NAME.match(name)
            or name in chosen
            or "\n" in value
            or "\r" in value
            or len(chosen) >= DOTENV_MAX_VARIABLES
            or size + len(line.encode()) > DOTENV_MAX_BYTES
        ):
            left_out.append(name)
            continue
        chosen[name] = value
        size += len(line.encode())
    return chosen, left_out


def dotenv_text(values: Mapping[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


def json_text(fixed: Mapping[str, Any]) -> str:
    return json.dumps(dict(fixed), indent=2, sort_keys=True) + "\n"
