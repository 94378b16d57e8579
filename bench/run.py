"""Benchmarks: `make bench` runs each one, prints a table and writes bench/results.json.

Every figure is the median of repeated runs on this machine. Where a peer does the same job, it
runs in the same process on the same machine and the figure is the ratio ours / peer (lower is
better); a figure without a peer is reported as measured. Nothing here asserts: benchmarks
report, tests decide.

Needs the proving ground's engine (run through `python -m proving_ground run --`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
IMAGE = "hybridless-action:bench"


@dataclass
class Result:
    name: str
    unit: str
    ours: float
    peer: float | None = None
    peer_name: str | None = None
    ratio: float | None = None


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def docker() -> Any:
    import docker as sdk

    return sdk.from_env(timeout=600)


def build_image() -> None:
    """The image from the repository's files as a checkout has them (what `uses: ./` builds)."""
    from proving_ground.checkout import copy_repository

    with tempfile.TemporaryDirectory() as tmp:
        source = copy_repository(Path(tmp))
        docker().images.build(
            path=str(source), tag=IMAGE, network_mode="host", rm=True, forcerm=True
        )


def image_size() -> list[Result]:
    client = docker()
    image = client.images.get(IMAGE)
    base = client.images.get(os.environ.get("HYBRIDLESS_GROUND_BASE_IMAGE", "debian:bookworm-slim"))
    mib = 1024 * 1024
    return [
        Result("image-size", "MiB", round(image.attrs["Size"] / mib, 1)),
        Result(
            "image-size-over-base",
            "MiB",
            round((image.attrs["Size"] - base.attrs["Size"]) / mib, 1),
        ),
    ]


def first_log_line_seconds() -> float:
    """From `docker run` to the container's first line of output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["docker", "run", "--rm", "--network", "host", IMAGE, "deploy", "--config", "absent.yml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.communicate(timeout=120)
    return elapsed


def startup() -> list[Result]:
    first_log_line_seconds()  # the first run pays for loading the image's layers
    return [
        Result("docker-run-to-first-log-line", "s", round(median_of(5, first_log_line_seconds), 3))
    ]


BENCHMARKS: dict[str, Callable[[], list[Result]]] = {
    "image-size": image_size,
    "startup": startup,
}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def table(results: list[Result]) -> str:
    rows = [["benchmark", "unit", "ours", "peer", "ratio"]]
    for r in results:
        peer = f"{r.peer} ({r.peer_name})" if r.peer is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        rows.append([r.name, r.unit, f"{r.ours:g}", peer, ratio])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    started = time.monotonic()
    print("building the image…", flush=True)
    build_image()
    results: list[Result] = []
    for name in args.only or BENCHMARKS:
        results.extend(BENCHMARKS[name]())
    RESULTS.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(table(results))
    print(
        f"\nmachine: {json.dumps(machine())}; took {time.monotonic() - started:.0f}s; "
        f"written to {RESULTS.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
