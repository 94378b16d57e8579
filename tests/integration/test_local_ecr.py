"""The local ECR tells the same story through docker and through ECR's API, as real ECR does."""

from __future__ import annotations

import json
import urllib.request

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


@pytest.fixture
def repository(ground_env: GroundHandle, unique: str) -> str:
    name = f"ground-test/app-{unique}"
    boto3.client("ecr").create_repository(repositoryName=name)
    return name


def test_pushed_images_are_listed_by_ecr_with_the_digest_docker_reported(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    pushed = {}
    for tag in ("v1", "v2", "v3"):
        build_scratch_image(engine, f"{reference}:{tag}", f"{unique}-{tag}")
        pushed[tag] = push(engine, reference, tag)

    # No wait between push and read: real ECR is read-your-writes, and so must the ground be.
    listed = ecr_tags(boto3.client("ecr"), repository)

    assert listed == {digest: {tag} for tag, digest in pushed.items()}
    details = boto3.client("ecr").describe_images(
        repositoryName=repository, imageIds=[{"imageTag": "v2"}]
    )["imageDetails"]
    assert details[0]["imageDigest"] == pushed["v2"]
    assert details[0]["imageManifestMediaType"].endswith("manifest.v2+json")


def test_a_tag_added_through_ecr_put_image_can_be_pulled(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    build_scratch_image(engine, f"{reference}:build", unique)
    digest = push(engine, reference, "build")
    ecr = boto3.client("ecr")
    manifest = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "build"}])

    ecr.put_image(
        repositoryName=repository,
        imageManifest=manifest["images"][0]["imageManifest"],
        imageTag="deploy-2",
    )

    assert registry_digest(ground_env.registry, repository, "deploy-2") == digest
    pulled = engine.images.pull(reference, tag="deploy-2")
    assert f"{reference}@{digest}" in pulled.attrs["RepoDigests"]
    assert ecr_tags(ecr, repository) == {digest: {"build", "deploy-2"}}


def test_removing_one_tag_through_ecr_keeps_the_image_under_its_other_tags(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    build_scratch_image(engine, f"{reference}:a", unique)
    digest = push(engine, reference, "a")
    engine.images.get(f"{reference}:a").tag(reference, "b")
    assert push(engine, reference, "b") == digest
    ecr = boto3.client("ecr")
    before = bridge_stats(ground_env)

    result = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "a"}])

    assert result["failures"] == []
    assert ecr_tags(ecr, repository) == {digest: {"b"}}
    assert registry_digest(ground_env.registry, repository, "a") is None
    assert registry_digest(ground_env.registry, repository, "b") == digest
    # The registry cannot drop one tag: the bridge deletes the manifest and puts "b" back. The
    # registry's delete events for that (the digest, tags a and b) must not reach ECR again.
    after = bridge_stats(ground_env)
    assert delta(before, after, "echoes_ignored") == 3
    assert delta(before, after, "deletes_to_ecr") == 0
    assert delta(before, after, "errors") == 0


def test_an_image_deleted_through_ecr_can_no_longer_be_pulled(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    build_scratch_image(engine, f"{reference}:doomed", f"{unique}-doomed")
    doomed = push(engine, reference, "doomed")
    build_scratch_image(engine, f"{reference}:kept", f"{unique}-kept")
    kept = push(engine, reference, "kept")
    ecr = boto3.client("ecr")

    result = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": doomed}])

    assert [i["imageDigest"] for i in result["imageIds"]] == [doomed]
    assert ecr_tags(ecr, repository) == {kept: {"kept"}}
    assert registry_digest(ground_env.registry, repository, doomed) is None
    engine.images.remove(f"{reference}:doomed", force=True)
    with pytest.raises(docker.errors.NotFound):
        engine.images.pull(reference, tag="doomed")
    assert registry_digest(ground_env.registry, repository, "kept") == kept


def test_deleting_a_repository_through_ecr_empties_it_in_the_registry(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    build_scratch_image(engine, f"{reference}:one", unique)
    digest = push(engine, reference, "one")

    before = bridge_stats(ground_env)

    boto3.client("ecr").delete_repository(repositoryName=repository, force=True)

    assert registry_digest(ground_env.registry, repository, digest) is None
    assert registry_digest(ground_env.registry, repository, "one") is None
    boto3.client("ecr").describe_repositories()  # an ECR call waits for the registry's events
    after = bridge_stats(ground_env)
    assert delta(before, after, "echoes_ignored") == 2
    assert delta(before, after, "errors") == 0


def test_a_manifest_deleted_in_the_registry_leaves_ecr(
    ground_env: GroundHandle, repository: str, unique: str
) -> None:
    import urllib.request

    engine = ground_env.docker()
    reference = f"{ground_env.registry}/{repository}"
    build_scratch_image(engine, f"{reference}:gone", unique)
    digest = push(engine, reference, "gone")
    request = urllib.request.Request(
        f"http://{ground_env.registry}/v2/{repository}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202

    assert ecr_tags(boto3.client("ecr"), repository) == {}
