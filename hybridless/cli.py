"""The `hybridless` command.

Each command maps its options onto the pipeline and holds no deploy logic of its own.

Exit codes: 0 success (including "no changes"); 1 a deploy phase failed; 2 the command line or
the configuration is wrong (nothing was touched); 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from hybridless import __version__
from hybridless.errors import EXIT_FAILED, EXIT_USAGE, HybridlessError
from hybridless.pipeline import DeployOptions, deploy
from hybridless.report import Reporter

REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?$")


def _registry(value: str) -> str:
    if not REGISTRY.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST[:PORT]")
    return value


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    reporter = Reporter()
    try:
        deploy(
            DeployOptions(
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
            ),
            reporter,
        )
    except HybridlessError as err:
        reporter.error(str(err))
        return err.exit_code
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
