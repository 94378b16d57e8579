"""The `hybridless` command.

Each command maps its options onto the pipeline (deploy), rollback.py or remove.py and holds
no logic of its own.

Exit codes: 0 success (including "no changes"); 1 a phase failed, or a rollback or removal was
refused (nothing was changed); 2 the command line or the configuration is wrong (nothing was
touched), or `remove` without a terminal to confirm on and without --yes; 3 cancelled by
SIGINT/SIGTERM while the stack was changing (the change was cancelled too; a deletion goes on);
130 interrupted before anything was changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hybridless import __version__, credentials
from hybridless.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    Cancelled,
    ConfigError,
    HybridlessError,
    PhaseError,
    Problem,
)
from hybridless.images.tags import VALID_TAG
from hybridless.pipeline import DeployOptions, DeployResult, deploy, summary_of
from hybridless.remove import RemoveOptions, remove
from hybridless.remove import summary_of as removal_summary
from hybridless.report import Annotation, Reporter
from hybridless.report.summary import Summary
from hybridless.report.summary import render as render_summary
from hybridless.rollback import RollbackOptions, rollback

REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?$")
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9]{1,255}$")
MAX_STACK_TAGS = 50


def _registry(value: str) -> str:
    if not REGISTRY.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST[:PORT]")
    return value


def _minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of minutes") from None
    if not 0 < minutes <= 24 * 60:
        raise argparse.ArgumentTypeError(f"{value!r}: give between 0 and 1440 minutes")
    return minutes


PAIR_ITEM = re.compile(r'(?:[^,"]|"[^"]*")+')


def parse_pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """`Key=Value` items, given one per option, one per line or comma-separated; a value holding
    a comma is quoted (`Key="a,b"` or `"Key=a,b"`). Later keys win."""
    pairs: dict[str, str] = {}
    for value in values:
        for line in value.splitlines():
            for raw in PAIR_ITEM.findall(line):
                item = raw.strip()
                if len(item) >= 2 and item[0] == item[-1] == '"':
                    item = item[1:-1]
                if not item:
                    continue
                key, equals, val = item.partition("=")
                key, val = key.strip(), val.strip()
                if not equals or not key:
                    raise argparse.ArgumentTypeError(f"{option}: {raw.strip()!r} is not Key=Value")
                if len(val) >= 2 and val[0] == val[-1] == '"':
                    val = val[1:-1]
                pairs[key] = val
    return pairs


def check_parameters(pairs: Mapping[str, str]) -> dict[str, str]:
    for key in pairs:
        if not PARAMETER_NAME.match(key):
            raise argparse.ArgumentTypeError(
                f"--parameter-overrides: {key!r} is not a parameter name (letters and digits)"
            )
    return dict(pairs)


def check_tags(pairs: Mapping[str, str]) -> dict[str, str]:
    """The limits CloudFormation enforces only after the images were pushed."""
    for key, value in pairs.items():
        if key.lower().startswith(("aws:", "hybridless:")):
            raise argparse.ArgumentTypeError(
                f"--tags: {key!r}: the aws: and hybridless: prefixes are reserved"
            )
        if len(key) > 128 or len(value) > 256:
            raise argparse.ArgumentTypeError(
                f"--tags: {key!r}: keys hold at most 128 characters, values 256"
            )
    if len(pairs) > MAX_STACK_TAGS - 2:
        raise argparse.ArgumentTypeError(f"--tags: at most {MAX_STACK_TAGS - 2} tags")
    return dict(pairs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridless",
        description="Deploy a hybrid AWS application described in hybridless.yml.",
    )
    parser.add_argument("--version", action="version", version=f"hybridless {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "deploy",
        help="build, push, package, validate, update the stack, clean up",
        description=(
            "Build the images, push them to ECR under a new tag, upload the template, validate "
            "it, bring the stack to it and, after success, delete images no longer in use. "
            "AWS endpoints come from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>."
        ),
    )
    _add_app_options(
        run,
        "how long to wait for the stack; then an update is cancelled (rolled back) and a "
        "stack being created is deleted",
    )
    _add_change_options(run, "stack parameter; repeat, or separate with commas or new lines")
    run.add_argument(
        "--image-tag", help="tag for this deploy's images (default: UTC time and short commit)"
    )
    run.add_argument(
        "--registry",
        type=_registry,
        help="push to this registry address instead of ECR's own (VPC endpoint, pull-through "
        "cache); env HYBRIDLESS_REGISTRY",
    )
    run.add_argument(
        "--preview", action="store_true", help="create and show the change set, do not execute it"
    )
    run.add_argument(
        "--rebuild",
        action="store_true",
        help="build and push every image even when ECR holds one of the same content "
        "(to pick up a base image that moved under its tag)",
    )
    run.add_argument(
        "--continue-update-rollback",
        action="store_true",
        help="if the stack is UPDATE_ROLLBACK_FAILED, continue its rollback first",
    )
    run.add_argument(
        "--resources-to-skip",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="with --continue-update-rollback: resources that failed to roll back to leave as "
        "they are; repeat, or separate with commas",
    )
    _add_rollback_command(commands)
    _add_remove_command(commands)
    _add_template_command(commands)
    _add_schema_command(commands)
    return parser


def _deployment_id(value: str) -> str:
    if not VALID_TAG.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a deployment id (the image tag of a deploy, as the deploy's "
            "image-tag output gives it)"
        )
    return value


def _add_app_options(command: argparse.ArgumentParser, waiting: str) -> None:
    """Which app, stage and stack a command acts on, and as whom: the deploy's options."""
    command.add_argument(
        "--config",
        type=Path,
        default=Path("hybridless.yml"),
        help="the application's file (default: hybridless.yml)",
    )
    command.add_argument(
        "--working-directory",
        type=Path,
        help="run from this directory (the config, and the paths in it, are relative to it)",
    )
    command.add_argument("--stage", help="stage (default: provider.stage, else dev)")
    command.add_argument("--region", help="AWS region (default: provider.region, else AWS_REGION)")
    command.add_argument("--stack-name", help="stack name (default: <service>-<stage>)")
    command.add_argument("--timeout-minutes", type=_minutes, help=waiting)
    command.add_argument(
        "--role-to-assume",
        help="IAM role ARN to act as; on GitHub Actions through the job's OIDC token",
    )
    command.add_argument("--role-session-name", help="session name for the assumed role")


def _add_change_options(command: argparse.ArgumentParser, parameters: str) -> None:
    """How a command changes the stack and hands on its results: deploy's and rollback's."""
    command.add_argument(
        "--method",
        choices=["changeset", "direct"],
        help="changeset (default) or direct CreateStack/UpdateStack",
    )
    command.add_argument(
        "--parameter-overrides", action="append", default=[], metavar="KEY=VALUE", help=parameters
    )
    command.add_argument(
        "--tags",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack tag, added to the config's tags; repeat, or separate with commas or new lines",
    )
    command.add_argument(
        "--role-arn",
        help="service role CloudFormation uses to change the stack (instead of the caller's "
        "permissions)",
    )
    command.add_argument(
        "--notification-arns",
        action="append",
        default=[],
        metavar="ARN",
        help="SNS topic for the stack's events; repeat, or separate with commas",
    )
    command.add_argument(
        "--no-cleanup",
        dest="cleanup",
        action="store_false",
        help="delete no images afterwards (keep those of earlier deploys)",
    )
    command.add_argument("--outputs-file", type=Path, help="write the outputs (JSON) to this file")
    command.add_argument(
        "--dotenv",
        type=Path,
        help="write the outputs as KEY=value lines for GitLab's artifacts:reports:dotenv "
        "(default on GitLab CI: hybridless.env)",
    )


def _add_rollback_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = commands.add_parser(
        "rollback",
        help="redeploy an earlier successful deployment (default: the one before the running one)",
        description=(
            "Deploy an earlier successful deployment's template again, from the deployment "
            "bucket, with the images it ran (pinned by digest); nothing is built. Everything it "
            "needs (its template, every image in ECR) is checked before the stack is touched. "
            "Without --to: the deployment that succeeded before the one running now, so a "
            "second rollback returns to where the first started. Then cleanup runs as after a "
            "deploy, and the outputs are those of a deploy."
        ),
    )
    run.add_argument(
        "--to",
        type=_deployment_id,
        metavar="DEPLOYMENT",
        help="the deployment to return to: its id, the image tag its deploy printed; a "
        "refusal lists those available",
    )
    _add_app_options(
        run,
        "how long to wait for the stack; then the update is cancelled (CloudFormation rolls "
        "it back)",
    )
    _add_change_options(
        run, "stack parameter values; the others keep the running stack's (UsePreviousValue)"
    )


def _add_remove_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = commands.add_parser(
        "remove",
        help="delete the stack, the stage's ECR repositories and its deployment records",
        description=(
            "Delete the stage's stack (following its events), then the ECR repositories "
            "hybridless created for it (tagged hybridless:service and hybridless:stage; others "
            "are kept), then its deployment records in the bucket (the bucket stays). A stack "
            "that fails to delete stops it with nothing else deleted; a stack with termination "
            "protection is refused. On a terminal it asks for the stack's name first; "
            "elsewhere (CI) pass --yes."
        ),
    )
    run.add_argument(
        "--yes", action="store_true", help="do not ask; required where there is no terminal"
    )
    _add_app_options(
        run,
        "how long to wait for the stack's deletion; it goes on after, and nothing else is deleted",
    )


def _add_template_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    offline = commands.add_parser(
        "template",
        help="render the CloudFormation a deploy would send, offline",
        description=(
            "Render the stack's template without AWS or Docker: to review, diff or policy-check "
            "it. With --output-dir, writes template.json and each nested stack beside it; "
            "otherwise prints the root template."
        ),
    )
    offline.add_argument("--config", type=Path, default=Path("hybridless.yml"))
    offline.add_argument("--stage", help="stage (default: provider.stage, else dev)")
    offline.add_argument("--region", help="AWS region (default: provider.region, else AWS_REGION)")
    offline.add_argument(
        "--account-id",
        default="123456789012",
        help="account id in image URIs and the default bucket (default: 123456789012)",
    )
    offline.add_argument("--image-tag", default="latest", help="image tag in image URIs")
    offline.add_argument("--output-dir", type=Path, help="write the templates here")


def run_template(args: argparse.Namespace) -> int:
    from hybridless.offline import OfflineOptions, render_offline, write_stacks
    from hybridless.template import to_json

    if not re.fullmatch(r"\d{12}", args.account_id):
        raise ConfigError([Problem("--account-id", None, "", "must be 12 digits")])
    stacks = render_offline(
        OfflineOptions(
            config=args.config,
            account_id=args.account_id,
            image_tag=args.image_tag,
            stage=args.stage,
            region=args.region,
        ),
        os.environ,
    )
    if args.output_dir:
        for path in write_stacks(stacks, args.output_dir):
            print(path, file=sys.stderr)
    else:
        sys.stdout.write(to_json(stacks.root))
        if stacks.children:
            print(
                f"the app needs {len(stacks.children)} nested stacks: use --output-dir to get "
                "them too",
                file=sys.stderr,
            )
    return 0


SCHEMA_HELP = """\
Print the JSON Schema (draft-07) of hybridless.yml, for completion, hover text and checks in
editors that use yaml-language-server (VS Code's YAML extension, Neovim, JetBrains, ...).

Save it next to the config and point the file at it with a modeline on its first line:

  hybridless schema > .hybridless.schema.json

  # yaml-language-server: $schema=./.hybridless.schema.json

or map it in the editor's settings:
  "yaml.schemas": {"./.hybridless.schema.json": "hybridless.yml"}

The schema describes the file once its ${...} variables are resolved; a value written as one
variable is accepted where a number, boolean or choice is expected. CloudFormation short forms
(!Ref, !GetAtt, !Sub) need the editor's yaml.customTags setting.
"""


def _add_schema_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    commands.add_parser(
        "schema",
        help="print the JSON Schema of hybridless.yml, for editors",
        description=SCHEMA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run_schema() -> int:
    import json

    from hybridless.schema import schema

    sys.stdout.write(json.dumps(schema(), indent=2, ensure_ascii=False) + "\n")
    return 0


def split_list(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        item.strip() for value in values for item in re.split(r"[,\s]+", value) if item.strip()
    )


def options_from(args: argparse.Namespace) -> DeployOptions:
    return DeployOptions(
        config=args.config,
        stage=args.stage,
        region=args.region,
        stack_name=args.stack_name,
        image_tag=args.image_tag,
        registry=args.registry,
        method=args.method,
        preview=args.preview,
        cleanup=args.cleanup,
        rebuild=args.rebuild,
        outputs_file=args.outputs_file,
        parameters=check_parameters(parse_pairs(args.parameter_overrides, "--parameter-overrides")),
        tags=check_tags(parse_pairs(args.tags, "--tags")),
        timeout_minutes=args.timeout_minutes,
        role_to_assume=args.role_to_assume or None,
        role_session_name=args.role_session_name or None,
        dotenv=args.dotenv,
        role_arn=args.role_arn or None,
        notification_arns=split_list(args.notification_arns),
        continue_update_rollback=args.continue_update_rollback,
        resources_to_skip=check_skip(args),
    )


def rollback_options_from(args: argparse.Namespace) -> RollbackOptions:
    return RollbackOptions(
        config=args.config,
        stage=args.stage,
        region=args.region,
        stack_name=args.stack_name,
        to=args.to,
        method=args.method,
        parameters=check_parameters(parse_pairs(args.parameter_overrides, "--parameter-overrides")),
        tags=check_tags(parse_pairs(args.tags, "--tags")),
        cleanup=args.cleanup,
        outputs_file=args.outputs_file,
        dotenv=args.dotenv,
        timeout_minutes=args.timeout_minutes,
        role_to_assume=args.role_to_assume or None,
        role_session_name=args.role_session_name or None,
        role_arn=args.role_arn or None,
        notification_arns=split_list(args.notification_arns),
    )


def remove_options_from(args: argparse.Namespace) -> RemoveOptions:
    return RemoveOptions(
        config=args.config,
        stage=args.stage,
        region=args.region,
        stack_name=args.stack_name,
        timeout_minutes=args.timeout_minutes,
        role_to_assume=args.role_to_assume or None,
        role_session_name=args.role_session_name or None,
    )


def can_ask(environ: Mapping[str, str]) -> bool:
    """Whether someone can answer a question: a terminal on both ends, and not a CI job (some
    allocate a terminal that nobody watches)."""
    if environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def ask_for_stack_name(stack_name: str) -> bool:
    try:
        answer = input(f"Type the stack's name ({stack_name}) to delete all of the above: ")
    except EOFError:
        return False
    return answer.strip() == stack_name


def check_skip(args: argparse.Namespace) -> tuple[str, ...]:
    skip = split_list(args.resources_to_skip)
    if skip and not args.continue_update_rollback:
        raise argparse.ArgumentTypeError(
            "--resources-to-skip only applies with --continue-update-rollback"
        )
    return skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "schema":
        return run_schema()
    if args.command == "template":
        try:
            return run_template(args)
        except HybridlessError as err:
            Reporter().error(str(err))
            return err.exit_code
    run: Callable[[Reporter], Any]
    try:
        if args.command == "rollback":
            run = functools.partial(rollback, rollback_options_from(args))
        elif args.command == "remove":
            removing = remove_options_from(args)
            if not args.yes and not can_ask(os.environ):
                Reporter().error(
                    "remove deletes the stack, its repositories and its deployment records, "
                    "and there is no terminal to confirm on: pass --yes"
                )
                return EXIT_USAGE
            run = functools.partial(
                remove, removing, confirm=None if args.yes else ask_for_stack_name
            )
        else:
            run = functools.partial(deploy, options_from(args))
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    if args.working_directory:
        try:
            os.chdir(args.working_directory)
        except OSError as err:
            parser.error(f"--working-directory {args.working_directory}: {err.strerror}")
    # SIGTERM (what CI services send on cancel) gets SIGINT's handling: the stack change in
    # progress is cancelled rather than abandoned. SIGINT is set too: a command a script starts
    # in the background inherits SIGINT ignored, and would otherwise not stop at all.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    reporter = Reporter()
    for secret in credentials.secrets_in(os.environ):
        reporter.mask(secret)
    result: Any = None
    failure: HybridlessError | None = None
    try:
        result = run(reporter)
    except HybridlessError as err:
        failure = err
        reporter.error(str(err))
        annotate_failure(reporter, err, os.environ, args.command)
        code = err.exit_code
    except KeyboardInterrupt:
        reporter.error("interrupted")
        return 130
    except Exception:
        reporter.error(
            "internal error in hybridless (not caused by your configuration); please report "
            "it with the trace below"
        )
        reporter.info(traceback.format_exc())
        return EXIT_FAILED
    else:
        code = 0
    write_summary(reporter, result, failure, os.environ, args.command)
    return code


def annotate_failure(
    reporter: Reporter, err: HybridlessError, environ: Mapping[str, str], command: str = "deploy"
) -> None:
    """Config problems point at their file and line (GitHub shows them on the file); any other
    failure is one error annotation titled by its phase."""
    if isinstance(err, ConfigError):
        for problem in err.problems:
            reporter.annotate(
                Annotation(
                    "error",
                    f"{problem.key}: {problem.message}" if problem.key else problem.message,
                    title="hybridless configuration",
                    file=workspace_path(problem.file, environ),
                    line=problem.line,
                )
            )
    else:
        if isinstance(err, PhaseError):
            title = f"{err.phase} failed"
        else:
            title = f"{command} cancelled" if isinstance(err, Cancelled) else f"{command} failed"
        message = str(err).removeprefix(title + ": ")
        reporter.annotate(Annotation("error", message, title=title))


def workspace_path(file: str, environ: Mapping[str, str]) -> str:
    """The path GitHub matches annotations against: relative to the workspace."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace or file.startswith("--"):
        return file if not file.startswith("--") else ""
    try:
        return str(Path(file).resolve().relative_to(Path(workspace).resolve()))
    except ValueError:
        return file


def write_summary(
    reporter: Reporter,
    result: Any,
    failure: HybridlessError | None,
    environ: Mapping[str, str],
    command: str = "deploy",
) -> None:
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path or (result is None and failure is None):
        return
    text = render_summary(summary_for(command, reporter, result, failure))
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(reporter.redact(text))
    except OSError as err:
        reporter.warning(f"cannot write the step summary to {path}: {err}")


def summary_for(
    command: str, reporter: Reporter, result: Any, failure: HybridlessError | None
) -> Summary:
    """The deploy's summary; a rollback's says it was one, a removal's says what went."""
    if command == "remove":
        return removal_summary(reporter, result, failure)
    deployed = result if isinstance(result, DeployResult) else None
    summary = summary_of(reporter, deployed, failure)
    if command == "rollback":
        outcome = "rolled back" if failure is None and deployed else "rollback failed"
        summary = dataclasses.replace(summary, outcome=outcome)
    return summary


if __name__ == "__main__":
    sys.exit(main())
