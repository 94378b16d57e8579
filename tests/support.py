"""Small helpers shared by tests that drive the real Docker engine and registry."""

from __future__ import annotations

import io
import tarfile
import urllib.error
import urllib.request
from typing import Any

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


def build_context(files: dict[str, bytes]) -> io.BytesIO:
    """An in-memory docker build context."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_scratch_image(docker: Any, tag: str, content: str) -> Any:
    """A tiny image (FROM scratch, one file) whose digest depends on `content`."""
    context = build_context(
        {"Dockerfile": b"FROM scratch\nCOPY payload /payload\n", "payload": content.encode()}
    )
    image, _ = docker.images.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True
    )
    return image


def push(docker: Any, repository: str, tag: str) -> str:
    """Push with the engine and return the digest docker reports."""
    digest = None
    for line in docker.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push {repository}:{tag} failed: {line['error']}")
        digest = line.get("aux", {}).get("Digest", digest)
    assert digest, f"docker reported no digest for {repository}:{tag}"
    return str(digest)


def registry_digest(registry: str, repository: str, reference: str) -> str | None:
    """The digest the registry serves for `reference`, or None when it has none."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": MANIFEST_ACCEPT},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["Docker-Content-Digest"]
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def ecr_tags(ecr: Any, repository: str) -> dict[str, set[str]]:
    """{digest: tags} as ECR's API lists them (every page)."""
    result: dict[str, set[str]] = {}
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repository):
        for image in page["imageIds"]:
            tags = result.setdefault(image["imageDigest"], set())
            if "imageTag" in image:
                tags.add(image["imageTag"])
    return result
