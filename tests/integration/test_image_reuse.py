"""Unchanged images are found by content and re-tagged, never rebuilt or pushed again.

Writes to the registry are counted in the registry's own access log. The local ECR mirrors
each `PutImage` into the registry as a manifest PUT (that is how the registry behind real ECR
gets the tag too); those come from the bridge, not from the Docker engine, and carry no layer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import boto3

from tests.integration.hello import REPOSITORIES, App, digests

ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" \d+ \S+ "[^"]*" "(?P<agent>[^"]*)"'
)
WRITES = ("PUT", "POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Access:
    method: str
    path: str
    agent: str


def registry_log() -> Path:
    return Path(os.environ["HYBRIDLESS_GROUND_REGISTRY_LOG"])


def writes_since(offset: int, stage: str) -> list[Access]:
    """Writes to this test's repositories after `offset` bytes of the access log."""
    with registry_log().open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    found = []
    for line in text.splitlines():
        match = ACCESS.search(line)
        if match and match["method"] in WRITES and f"-{stage}/" in match["path"]:
            found.append(Access(match["method"], match["path"], match["agent"]))
    return found


def test_an_unchanged_redeploy_writes_nothing_to_the_registry(app: App) -> None:
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    assert first.outputs is not None
    assert first.log.count("new content") == len(REPOSITORIES)
    offset = registry_log().stat().st_size

    second = app.deploy("--method", "direct")

    assert second.returncode == 0, second.log
    assert second.outputs is not None
    assert "no changes" in second.log
    assert digests(second.outputs) == digests(first.outputs)
    assert second.log.count("is reused: not built, not pushed") == len(REPOSITORIES)
    assert "Step 1/" not in second.log
    writes = writes_since(offset, app.stage)
    assert [w for w in writes if w.agent.startswith("docker/")] == []
    assert [w for w in writes if "/blobs/" in w.path] == []
    # What is left is the local ECR giving each manifest the new tag, after one PutImage each.
    tag = second.outputs["image-tag"]
    assert sorted(w.path for w in writes) == sorted(
        f"/v2/{app.repository(name)}/manifests/{tag}" for name in REPOSITORIES
    )
    ecr = boto3.client("ecr")
    for name in REPOSITORIES:
        digest = digests(second.outputs)[name]
        details = ecr.describe_images(
            repositoryName=app.repository(name), imageIds=[{"imageDigest": digest}]
        )["imageDetails"][0]
        assert {tag, first.outputs["image-tag"]} <= set(details["imageTags"])
        assert any(t.startswith("content-") for t in details["imageTags"])


def test_rebuild_builds_and_pushes_whatever_ecr_holds(app: App) -> None:
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    offset = registry_log().stat().st_size

    again = app.deploy("--method", "direct", "--rebuild")

    assert again.returncode == 0, again.log
    assert again.log.count("--rebuild") >= len(REPOSITORIES)
    assert "is reused" not in again.log
    pushed = [w for w in writes_since(offset, app.stage) if w.agent.startswith("docker/")]
    assert {w.path.split("/manifests/")[0] for w in pushed if "/manifests/" in w.path} == {
        f"/v2/{app.repository(name)}" for name in REPOSITORIES
    }


def test_a_changed_file_builds_again_and_an_old_content_tag_goes_with_its_image(
    app: App,
) -> None:
    app.keep_previous(0)
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    assert first.outputs is not None

    app.change_code("Changed, {audience}.")
    second = app.deploy("--method", "direct")

    assert second.returncode == 0, second.log
    assert second.outputs is not None
    assert second.log.count("new content") == len(REPOSITORIES)
    ecr = boto3.client("ecr")
    running = app.running_digests()
    for name in REPOSITORIES:
        left: dict[str, set[str]] = {}
        for image in ecr.list_images(repositoryName=app.repository(name))["imageIds"]:
            left.setdefault(image["imageDigest"], set()).add(image.get("imageTag", ""))
        # What is left is what runs and what was just deployed, each with its own content tag:
        # the first image, when nothing runs it any more, went with its content tag.
        assert set(left) == running[name] | {digests(second.outputs)[name]}
        for tags in left.values():
            assert len([t for t in tags if t.startswith("content-")]) == 1, tags
