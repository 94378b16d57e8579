"""Build each image of the app with the Docker engine, streaming the builder's output.

The classic builder's layer cache makes an unchanged build produce the same image, and so the
same digest on push: that is what lets an unchanged deploy end as an empty change set.
Only the steps are shown while building; when a step fails, its last lines of output are put
into the error, where the user looks first.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from hybridless.errors import PhaseError
from hybridless.model import Image
from hybridless.report import Reporter

RECENT_LINES = 25
NOISE = (" ---> ", "Removing intermediate container")


def build_image(docker: Any, image: Image, local_name: str, reporter: Reporter) -> str:
    """Build `image` as `local_name` and return the image id."""
    image_id = None
    recent: deque[str] = deque(maxlen=RECENT_LINES)
    stream = docker.api.build(
        path=str(image.context),
        dockerfile=image.dockerfile,
        tag=local_name,
        buildargs=dict(image.build_args),
        rm=True,
        forcerm=True,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            detail = (chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
            output = "\n".join(f"  | {line}" for line in recent)
            raise PhaseError(
                "build",
                f"{image.name} ({image.dockerfile}): {detail}"
                + (f"\nlast output of the build:\n{output}" if output else ""),
            )
        for line in chunk.get("stream", "").splitlines():
            if line.startswith("Step ") or line.startswith("Successfully built"):
                reporter.info(f"{image.name}: {line}")
            elif line.strip() and not line.startswith(NOISE):
                recent.append(line.rstrip())
        image_id = chunk.get("aux", {}).get("ID", image_id)
    if not image_id:
        raise PhaseError("build", f"{image.name}: the engine reported no image id")
    return str(image_id)
