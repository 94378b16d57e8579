"""Build the app's images with the Docker engine, several at once, streaming each builder's steps.

Builds run on a bounded pool (`hybridless.buildConcurrency`, default 2): an engine builds
independent images in parallel well, but a CI runner's two cores and its memory are shared by
every build, so more is not faster past a point. Each line says which image it is about; a
failed build stops the builds not yet started, lets the running ones finish (an engine build
cannot be cancelled cleanly), and its last lines of output go into the error, where the user
looks first.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from hybridless.errors import PhaseError
from hybridless.images.context import BuildContext
from hybridless.model import Image
from hybridless.report import Reporter

RECENT_LINES = 25
NOISE = (" ---> ", "Removing intermediate container")


def build_image(
    docker: Any, image: Image, context: BuildContext, local_name: str, reporter: Reporter
) -> str:
    """Build `image` from `context` as `local_name` and return the image id."""
    image_id = None
    recent: deque[str] = deque(maxlen=RECENT_LINES)
    source = f"built-in runtime {image.runtime.name}" if image.runtime else image.dockerfile
    options: dict[str, Any] = {}
    if image.platform:
        options["platform"] = image.platform
    started = time.monotonic()
    with context.archive() as archive:
        stream = docker.api.build(
            fileobj=archive,
            custom_context=True,
            dockerfile=context.dockerfile,
            tag=local_name,
            buildargs=dict(image.build_args),
            rm=True,
            forcerm=True,
            decode=True,
            **options,
        )
        for chunk in stream:
            if "error" in chunk:
                detail = (chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
                output = "\n".join(f"  | {line}" for line in recent)
                raise PhaseError(
                    "build",
                    f"{image.name} ({source}): {detail}"
                    + (f"\nlast output of the build:\n{output}" if output else ""),
                )
            for line in chunk.get("stream", "").splitlines():
                if line.startswith("Step "):
                    reporter.info(f"{image.name}: {line}")
                elif line.strip() and not line.startswith(NOISE):
                    recent.append(line.rstrip())
            image_id = chunk.get("aux", {}).get("ID", image_id)
    if not image_id:
        raise PhaseError("build", f"{image.name}: the engine reported no image id")
    if image.platform:
        _check_platform(docker, image, str(image_id))
    reporter.info(
        f"{image.name}: built in {time.monotonic() - started:.1f}s ({str(image_id)[:19]})"
    )
    return str(image_id)


def _check_platform(docker: Any, image: Image, image_id: str) -> None:
    """An engine without emulation, or a base image that exists locally for one CPU only, can
    quietly build for the wrong CPU; the task or function would then fail to start, after the
    deploy. Better to stop here."""
    built = str(docker.api.inspect_image(image_id).get("Architecture", ""))
    wanted = image.platform.split("/", 1)[1] if image.platform else ""
    if built and built != wanted:
        raise PhaseError(
            "build",
            f"{image.name}: platform {image.platform} was asked for, but the engine built "
            f"linux/{built}: its base image is there for linux/{built} only, or the engine "
            "cannot build for the other CPU (install QEMU's binfmt handlers, or build on a "
            f"{wanted} runner)",
        )


def build_all(
    docker: Any,
    builds: Sequence[tuple[Image, BuildContext, str]],
    concurrency: int,
    reporter: Reporter,
) -> None:
    """Build each (image, context, local name), at most `concurrency` at a time."""
    if not builds:
        return
    workers = max(1, min(concurrency, len(builds)))
    if workers > 1:
        reporter.info(f"building {len(builds)} image(s), {workers} at a time")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
        futures: list[Future[str]] = [
            pool.submit(build_image, docker, image, context, name, reporter)
            for image, context, name in builds
        ]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(pending)
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error
