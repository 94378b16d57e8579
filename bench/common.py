"""What every benchmark shares: the result record, repeated and interleaved runs, medians.

Every figure is the median of repeated runs on this machine. Where a peer does the same job, it
runs on the same machine in the same run and the figure is the ratio ours / peer (lower is
better); a figure without a peer is reported as measured. Nothing here asserts: benchmarks
report, tests decide.
"""

from __future__ import annotations

import io
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    unit: str
    ours: float
    peer: float | None = None
    peer_name: str | None = None
    ratio: float | None = None
    note: str | None = None


def compared(
    name: str, unit: str, ours: float, peer: float, peer_name: str, note: str | None = None
) -> Result:
    ratio = round(ours / peer, 2) if peer else None
    return Result(name, unit, ours, peer, peer_name, ratio, note)


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def interleaved(runs: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each measure once per round, in turn, each round starting one further along: drift on
    a shared machine, and whatever one measure leaves behind for the next, hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_ in range(runs):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(measures[name]())
    return times


def median(times: list[float]) -> float:
    return round(statistics.median(times), 3)


def spread(times: list[float]) -> str:
    return f"{min(times):.2f} to {max(times):.2f} s"


def quiet() -> Any:
    """A reporter whose lines go nowhere: what a benchmark times is the work, not the log."""
    from hybridless.report import Reporter

    return Reporter(io.StringIO(), environ={})


def docker_cli(*args: str) -> None:
    process = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {process.stderr.strip()[-2000:]}")


def docker() -> Any:
    import docker as sdk

    return sdk.from_env(timeout=600)


AWS_CLI_VENV = REPO / ".venv-awscli"


def aws_cli_python() -> Path:
    """The interpreter of the AWS CLI's own virtualenv (`make bench-tools`): the CLI pins its
    botocore, so it cannot share the project's environment."""
    python = AWS_CLI_VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"no AWS CLI at {AWS_CLI_VENV}: run `make bench-tools` first")
    return python
