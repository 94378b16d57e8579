"""The GitHub Action's inputs, turned into the command line the `hybridless` command takes.

The runner passes each input as `INPUT_<NAME>`: upper-cased, spaces to underscores, hyphens kept
(`INPUT_ROLE-TO-ASSUME`). Every input maps onto one CLI option, so the action and the command
can never drift apart: what the action does is what `hybridless deploy` with those options does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hybridless.errors import HybridlessError

TRUE = ("true", "True", "TRUE")
FALSE = ("false", "False", "FALSE")


@dataclass(frozen=True)
class Input:
    name: str
    option: str
    kind: str = "value"  # value | flag-if-true | flag-if-false


INPUTS = (
    Input("working-directory", "--working-directory"),
    Input("config", "--config"),
    Input("stage", "--stage"),
    Input("region", "--region"),
    Input("stack-name", "--stack-name"),
    Input("image-tag", "--image-tag"),
    Input("registry", "--registry"),
    Input("method", "--method"),
    Input("role-to-assume", "--role-to-assume"),
    Input("role-session-name", "--role-session-name"),
    Input("parameter-overrides", "--parameter-overrides"),
    Input("tags", "--tags"),
    Input("timeout-minutes", "--timeout-minutes"),
    Input("role-arn", "--role-arn"),
    Input("notification-arns", "--notification-arns"),
    Input("resources-to-skip", "--resources-to-skip"),
    Input("continue-update-rollback", "--continue-update-rollback", "flag-if-true"),
    Input("preview", "--preview", "flag-if-true"),
    Input("cleanup", "--no-cleanup", "flag-if-false"),
)


class InputError(HybridlessError):
    exit_code = 2


def variable(name: str) -> str:
    return "INPUT_" + name.replace(" ", "_").upper()


def is_action_run(environ: Mapping[str, str]) -> bool:
    return any(key.startswith("INPUT_") for key in environ)


def _boolean(name: str, value: str) -> bool:
    """YAML 1.2's core booleans, as the official toolkit reads them."""
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InputError(f"input {name}: {value!r} is not true or false")


def argv_from_inputs(environ: Mapping[str, str]) -> list[str]:
    argv = ["deploy"]
    for spec in INPUTS:
        value = environ.get(variable(spec.name), "").strip()
        if not value:
            continue
        if spec.kind == "value":
            argv += [spec.option, value]
        elif _boolean(spec.name, value) == (spec.kind == "flag-if-true"):
            argv.append(spec.option)
    return argv
