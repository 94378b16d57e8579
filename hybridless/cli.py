"""The `hybridless` command.

Each command maps its options onto the pipeline and holds no deploy logic of its own.

Exit codes: 0 success (including "no changes"); 1 a deploy phase failed; 2 the command line or
the configuration is wrong (nothing was touched); 3 cancelled by SIGINT/SIGTERM while the stack
was changing (the change was cancelled too); 130 interrupted before anything was changed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from hybridless import __version__
from hybridless.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    Cancelled,
    ConfigError,
    HybridlessError,
    PhaseError,
    Problem,
)
from hybridless.pipeline import DeployOptions, DeployResult, deploy, summary_of
from hybridless.report import Annotation, Reporter
from hybridless.report.summary import render as render_summary

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
    run.add_argument(
        "--config",
        type=Path,
        default=Path("hybridless.yml"),
        help="the application's file (default: hybridless.yml)",
    )
    run.add_argument("--stage", help="stage to deploy (default: provider.stage, else dev)")
    run.add_argument("--region", help="AWS region (default: provider.region, else AWS_REGION)")
    run.add_argument("--stack-name", help="stack name (default: <service>-<stage>)")
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
        "--method",
        choices=["changeset", "direct"],
        help="changeset (default) or direct CreateStack/UpdateStack",
    )
    run.add_argument(
        "--preview", action="store_true", help="create and show the change set, do not execute it"
    )
    run.add_argument(
        "--no-cleanup", dest="cleanup", action="store_false", help="keep images of earlier deploys"
    )
    run.add_argument(
        "--outputs-file", type=Path, help="write the deploy's outputs (JSON) to this file"
    )
    run.add_argument(
        "--dotenv",
        type=Path,
        help="write the outputs as KEY=value lines for GitLab's artifacts:reports:dotenv "
        "(default on GitLab CI: hybridless.env)",
    )
    run.add_argument(
        "--working-directory",
        type=Path,
        help="run from this directory (the config and the build contexts are relative to it)",
    )
    run.add_argument(
        "--parameter-overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack parameter; repeat, or separate with commas or new lines",
    )
    run.add_argument(
        "--tags",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack tag, added to the config's tags; repeat, or separate with commas or new lines",
    )
    run.add_argument(
        "--timeout-minutes",
        type=_minutes,
        help="how long to wait for the stack; then an update is cancelled (rolled back) and a "
        "stack being created is deleted",
    )
    run.add_argument(
        "--role-to-assume",
        help="IAM role ARN to act as; on GitHub Actions through the job's OIDC token",
    )
    run.add_argument("--role-session-name", help="session name for the assumed role")
    run.add_argument(
        "--role-arn",
        help="service role CloudFormation uses to change the stack (instead of the caller's "
        "permissions)",
    )
    run.add_argument(
        "--notification-arns",
        action="append",
        default=[],
        metavar="ARN",
        help="SNS topic for the stack's events; repeat, or separate with commas",
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
    _add_template_command(commands)
    _add_schema_command(commands)
    return parser


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
    try:
        options = options_from(args)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    if args.working_directory:
        try:
            os.chdir(args.working_directory)
        except OSError as err:
            parser.error(f"--working-directory {args.working_directory}: {err.strerror}")
    # SIGTERM (what CI services send on cancel) gets SIGINT's handling: the stack change in
    # progress is cancelled rather than abandoned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    reporter = Reporter()
    result: DeployResult | None = None
    failure: HybridlessError | None = None
    try:
        result = deploy(options, reporter)
    except HybridlessError as err:
        failure = err
        reporter.error(str(err))
        annotate_failure(reporter, err, os.environ)
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
    write_summary(reporter, result, failure, os.environ)
    return code


def annotate_failure(reporter: Reporter, err: HybridlessError, environ: Mapping[str, str]) -> None:
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
            title = "deploy cancelled" if isinstance(err, Cancelled) else "deploy failed"
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
    result: DeployResult | None,
    failure: HybridlessError | None,
    environ: Mapping[str, str],
) -> None:
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path or (result is None and failure is None):
        return
    text = render_summary(summary_of(reporter, result, failure))
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(reporter.redact(text))
    except OSError as err:
        reporter.warning(f"cannot write the step summary to {path}: {err}")


if __name__ == "__main__":
    sys.exit(main())
