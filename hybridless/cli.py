"""The `hybridless` command.

Commands are added here as the pipeline stages they drive land; each one maps its options onto
the pipeline and holds no deploy logic of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from hybridless import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridless",
        description="Deploy a hybrid AWS application described in hybridless.yml.",
    )
    parser.add_argument("--version", action="version", version=f"hybridless {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
