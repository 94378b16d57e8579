"""The local ECR tells the same story through docker and through ECR's API, as real ECR does."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import docker.errors
import pytest

from tests.conftest import GroundHandle
from tests.support import build_scratch_image, ecr_tags, push, registry_digest


def bridge_stats(ground: GroundHandle) -> dict[str, int]:
    with urllib.request.urlopen(ground.env["AWS_ENDPOINT_URL_ECR"] + "/health") as response:
        return dict(json.load(response))


def delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


@dataclass(frozen=True)
class Repository:
    """A fresh ECR repository, and publishing to it with the engine as a user does."""

    name: str
    reference: str
    engine: Any

    def publish(self, tag: str, content: str) -> str:
        build_scratch_image(self.engine, f"{self.reference}:{tag}", content)
        return push(self.engine, self.reference, tag)


@pytest.fixture
def repo(ground_env: GroundHandle, unique: str) -> Repository:
    name = f"ground-test/app-{unique}"
    boto3.client("ecr").create_repository(repositoryName=name)
    return Repository(name, f"{ground_env.registry}/{name}", ground_env.docker())


def test_pushed_images_are_listed_by_ecr_with_the_digest_docker_reported(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    pushed = {tag: repo.publish(tag, f"{unique}-{tag}") for tag in ("v1", "v2", "v3")}

    # No wait between push and read: real ECR is read-your-writes, and so must the ground be.
    listed = ecr_tags(boto3.client("ecr"), repo.name)

    assert listed == {digest: {tag} for tag, digest in pushed.items()}
    details = boto3.client("ecr").describe_images(
        repositoryName=repo.name, imageIds=[{"imageTag": "v2"}]
    )["imageDetails"]
    assert details[0]["imageDigest"] == pushed["v2"]
    assert details[0]["imageManifestMediaType"].endswith("manifest.v2+json")


def test_a_tag_added_through_ecr_put_image_can_be_pulled(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    digest = repo.publish("build", unique)
    ecr = boto3.client("ecr")
    manifest = ecr.batch_get_image(repositoryName=repo.name, imageIds=[{"imageTag": "build"}])

    ecr.put_image(
        repositoryName=repo.name,
        imageManifest=manifest["images"][0]["imageManifest"],
        imageTag="deploy-2",
    )

    assert registry_digest(ground_env.registry, repo.name, "deploy-2") == digest
    pulled = repo.engine.images.pull(repo.reference, tag="deploy-2")
    assert f"{repo.reference}@{digest}" in pulled.attrs["RepoDigests"]
    assert ecr_tags(ecr, repo.name) == {digest: {"build", "deploy-2"}}


def test_removing_one_tag_through_ecr_keeps_the_image_under_its_other_tags(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    digest = repo.publish("a", unique)
    assert repo.publish("b", unique) == digest
    ecr = boto3.client("ecr")
    before = bridge_stats(ground_env)

    result = ecr.batch_delete_image(repositoryName=repo.name, imageIds=[{"imageTag": "a"}])

    assert result["failures"] == []
    assert ecr_tags(ecr, repo.name) == {digest: {"b"}}
    assert registry_digest(ground_env.registry, repo.name, "a") is None
    assert registry_digest(ground_env.registry, repo.name, "b") == digest
    # The registry cannot drop one tag: the bridge deletes the manifest and puts "b" back. The
    # registry's delete events for that (the digest, tags a and b) must not reach ECR again.
    after = bridge_stats(ground_env)
    assert delta(before, after, "echoes_ignored") == 3
    assert delta(before, after, "deletes_to_ecr") == 0
    assert delta(before, after, "errors") == 0


def test_an_image_deleted_through_ecr_can_no_longer_be_pulled(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    doomed = repo.publish("doomed", f"{unique}-doomed")
    kept = repo.publish("kept", f"{unique}-kept")
    ecr = boto3.client("ecr")

    result = ecr.batch_delete_image(repositoryName=repo.name, imageIds=[{"imageDigest": doomed}])

    assert [i["imageDigest"] for i in result["imageIds"]] == [doomed]
    assert ecr_tags(ecr, repo.name) == {kept: {"kept"}}
    assert registry_digest(ground_env.registry, repo.name, doomed) is None
    repo.engine.images.remove(f"{repo.reference}:doomed", force=True)
    with pytest.raises(docker.errors.NotFound):
        repo.engine.images.pull(repo.reference, tag="doomed")
    assert registry_digest(ground_env.registry, repo.name, "kept") == kept


def test_deleting_a_repository_through_ecr_empties_it_in_the_registry(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    digest = repo.publish("one", unique)
    before = bridge_stats(ground_env)

    boto3.client("ecr").delete_repository(repositoryName=repo.name, force=True)

    assert registry_digest(ground_env.registry, repo.name, digest) is None
    assert registry_digest(ground_env.registry, repo.name, "one") is None
    boto3.client("ecr").describe_repositories()  # an ECR call waits for the registry's events
    after = bridge_stats(ground_env)
    assert delta(before, after, "echoes_ignored") == 2
    assert delta(before, after, "errors") == 0


def test_a_manifest_deleted_in_the_registry_leaves_ecr(
    ground_env: GroundHandle, repo: Repository, unique: str
) -> None:
    digest = repo.publish("gone", unique)
    request = urllib.request.Request(
        f"http://{ground_env.registry}/v2/{repo.name}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202

    assert ecr_tags(boto3.client("ecr"), repo.name) == {}
