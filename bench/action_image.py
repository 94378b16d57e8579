"""The action's image: its size, and how soon `docker run` of it says something.

The image is built from the repository's files as a checkout has them (what `uses: ./`
builds); the base is the proving ground's Debian stand-in.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Result, docker, median_of

IMAGE = "hybridless-action:bench"


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
