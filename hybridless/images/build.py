"""Build each image of the app with the Docker engine, streaming the builder's output.

The classic builder's layer cache makes an unchanged build produce the same image, and so the
same digest on push: that is what lets an unchanged deploy end as an empty change set.
"""

from __future__ import annotations

from typing import Any

from hybridless.errors import PhaseError
from hybridless.model import Image
from hybridless.report import Reporter


def build_image(docker: Any, image: Image, local_name: str, reporter: Reporter) -> str:
    """Build `image` as `local_name` and return the image id."""
    image_id = None
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
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise PhaseError("build", f"{image.name} ({image.dockerfile}): {detail.strip()}")
        text = chunk.get("stream", "").rstrip()
        if text.startswith("Step ") or text.startswith("Successfully built"):
            reporter.info(f"{image.name}: {text}")
        image_id = chunk.get("aux", {}).get("ID", image_id)
    if not image_id:
        raise PhaseError("build", f"{image.name}: the engine reported no image id")
    return str(image_id)
