"""The GitHub Action's inputs, turned into the command line the `hybridless` command takes.

The runner passes each input as `INPUT_<NAME>`: upper-cased, spaces to underscores, hyphens kept
(`INPUT_ROLE-TO-ASSUME`). The `command` input picks the subcommand (deploy, rollback, remove) and
every other input maps onto one of its options, so the action and the command can never drift
apart: what the action does is what `hybridless <command>` with those options does.

An input given to a command it does not apply to is an error rather than ignored: a workflow
that sets `preview: true` on a removal meant something else. Inputs left at their defaults
never are. `remove` gets --yes, since a workflow has nobody to ask: choosing the command in the
workflow is the confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hybridless.errors import HybridlessError

TRUE = ("true", "True", "TRUE")
FALSE = ("false", "False", "FALSE")


COMMAND = "command"
COMMANDS = ("deploy", "rollback", "remove")
DEPLOY = ("deploy",)
UPDATES = ("deploy", "rollback")  # the commands that update the stack


@dataclass(frozen=True)
class Input:
    name: str
    option: str
    kind: str = "value"  # value | flag-if-true | flag-if-false
    commands: tuple[str, ...] = COMMANDS  # the commands that take the option


INPUTS = (
    Input("working-directory", "--working-directory"),
    Input("config", "--config"),
    Input("stage", "--stage"),
    Input("region", "--region"),
    Input("stack-name", "--stack-name"),
    Input("image-tag", "--image-tag", commands=DEPLOY),
    Input("registry", "--registry", commands=DEPLOY),
    Input("method", "--method", commands=UPDATES),
    Input("role-to-assume", "--role-to-assume"),
    Input("role-session-name", "--role-session-name"),
    Input("parameter-overrides", "--parameter-overrides", commands=UPDATES),
    Input("tags", "--tags", commands=UPDATES),
    Input("timeout-minutes", "--timeout-minutes"),
    Input("role-arn", "--role-arn", commands=UPDATES),
    Input("notification-arns", "--notification-arns", commands=UPDATES),
    Input("resources-to-skip", "--resources-to-skip", commands=DEPLOY),
    Input("continue-update-rollback", "--continue-update-rollback", "flag-if-true", DEPLOY),
    Input("preview", "--preview", "flag-if-true", DEPLOY),
    Input("cleanup", "--no-cleanup", "flag-if-false", UPDATES),
    Input("rebuild", "--rebuild", "flag-if-true", DEPLOY),
    Input("rollback-to", "--to", commands=("rollback",)),
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
    command = environ.get(variable(COMMAND), "").strip() or "deploy"
    if command not in COMMANDS:
        raise InputError(f"input {COMMAND}: {command!r} is not one of {', '.join(COMMANDS)}")
    argv = [command]
    for spec in INPUTS:
        value = environ.get(variable(spec.name), "").strip()
        if not value:
            continue
        if spec.kind == "value":
            options = [spec.option, value]
        elif _boolean(spec.name, value) == (spec.kind == "flag-if-true"):
            options = [spec.option]
        else:
            continue
        if command not in spec.commands:
            raise InputError(
                f"input {spec.name} does not apply to command {command} (only to "
                f"{' and '.join(spec.commands)})"
            )
        argv += options
    if command == "remove":
        argv.append("--yes")
    return argv
