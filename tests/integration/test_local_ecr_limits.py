"""The local ECR pages and refuses as ECR does, where moto alone would not, seen through boto3.

moto answers every `ListImages`, `DescribeImages` and `DescribeRepositories` with all it has and
accepts a `BatchDeleteImage` of any size. Real ECR answers 100 items (or `maxResults`, up to
1000) and a `nextToken`, and refuses more than 100 image ids. A tool tested only against moto
could skip the token or the batching and still pass; through the bridge it cannot.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import GroundHandle
from tests.integration.tiny_images import TinyImages
from tests.support import ecr_tags, registry_digest


def fill(ground: GroundHandle, name: str, count: int) -> dict[str, set[str]]:
    """A new repository holding `count` distinct images, every tenth untagged; {digest: tags}."""
    boto3.client("ecr").create_repository(repositoryName=name)
    images = [(f"{name}-{n}", [] if n % 10 == 0 else [f"t{n}"]) for n in range(count)]
    digests = TinyImages(ground.registry, name).push_all(images)
    return {digest: set(tags) for digest, (_, tags) in zip(digests, images, strict=True)}


@pytest.fixture
def crowded(ground_env: GroundHandle, unique: str) -> tuple[str, dict[str, set[str]]]:
    name = f"ground-test/crowded-{unique}"
    return name, fill(ground_env, name, 230)


def test_image_listings_come_in_pages_of_100_unless_asked_otherwise(
    crowded: tuple[str, dict[str, set[str]]],
) -> None:
    name, pushed = crowded
    ecr = boto3.client("ecr")

    first = ecr.list_images(repositoryName=name)
    second = ecr.list_images(repositoryName=name, nextToken=first["nextToken"])
    third = ecr.list_images(repositoryName=name, nextToken=second["nextToken"])

    assert [len(p["imageIds"]) for p in (first, second, third)] == [100, 100, 30]
    assert "nextToken" not in third
    paged = [i["imageDigest"] for p in (first, second, third) for i in p["imageIds"]]
    assert sorted(paged) == sorted(pushed)
    assert ecr_tags(ecr, name) == pushed  # boto3's paginator follows the tokens
    small = ecr.list_images(repositoryName=name, maxResults=7)
    assert len(small["imageIds"]) == 7 and small["nextToken"]
    whole = ecr.list_images(repositoryName=name, maxResults=1000)
    assert len(whole["imageIds"]) == 230 and "nextToken" not in whole

    described = ecr.describe_images(repositoryName=name)
    assert len(described["imageDetails"]) == 100 and described["nextToken"]
    details = [
        detail
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=name)
        for detail in page["imageDetails"]
    ]
    assert {d["imageDigest"]: set(d.get("imageTags", [])) for d in details} == pushed
    named = [{"imageTag": "t1"}, {"imageTag": "t2"}, {"imageTag": "t3"}]
    chosen = ecr.describe_images(repositoryName=name, imageIds=named)
    assert len(chosen["imageDetails"]) == 3 and "nextToken" not in chosen


def test_a_token_from_another_repository_is_refused(ground_env: GroundHandle, unique: str) -> None:
    name, other = f"ground-test/two-{unique}", f"ground-test/other-{unique}"
    fill(ground_env, name, 2)
    fill(ground_env, other, 2)
    ecr = boto3.client("ecr")
    token = ecr.list_images(repositoryName=name, maxResults=1)["nextToken"]

    with pytest.raises(ClientError) as caught:
        ecr.list_images(repositoryName=other, nextToken=token)

    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_deleting_more_than_100_images_at_once_is_refused_and_deletes_nothing(
    ground_env: GroundHandle, unique: str
) -> None:
    name = f"ground-test/batch-{unique}"
    pushed = fill(ground_env, name, 101)
    ecr = boto3.client("ecr")
    ids = [{"imageDigest": digest} for digest in pushed]

    with pytest.raises(ClientError) as caught:
        ecr.batch_delete_image(repositoryName=name, imageIds=ids)

    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidParameterException"
    assert "less than or equal to 100" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ecr_tags(ecr, name) == pushed
    assert all(registry_digest(ground_env.registry, name, d) == d for d in pushed)

    result = ecr.batch_delete_image(repositoryName=name, imageIds=ids[:100])

    assert result["failures"] == []
    (left,) = ecr_tags(ecr, name)
    assert left == ids[100]["imageDigest"]
    gone = [i["imageDigest"] for i in ids[:100]]
    assert all(registry_digest(ground_env.registry, name, d) is None for d in gone)


def test_repository_listings_come_in_pages_of_100(ground_env: GroundHandle, unique: str) -> None:
    ecr = boto3.client("ecr")
    names = [f"ground-test/many-{unique}-{n:03d}" for n in range(101)]
    for name in names:
        ecr.create_repository(repositoryName=name)
    try:
        # The account holds at least these 101 (other tests add theirs): a first page is full.
        first = ecr.describe_repositories()
        listed = [
            repository["repositoryName"]
            for page in ecr.get_paginator("describe_repositories").paginate()
            for repository in page["repositories"]
        ]
        small = ecr.describe_repositories(maxResults=5)
        chosen = ecr.describe_repositories(repositoryNames=names[:2])
    finally:
        for name in names:
            ecr.delete_repository(repositoryName=name)

    assert len(first["repositories"]) == 100 and first["nextToken"]
    assert set(names) <= set(listed)
    assert len(listed) == len(set(listed)), "a repository was listed twice"
    assert len(small["repositories"]) == 5 and small["nextToken"]
    assert [r["repositoryName"] for r in chosen["repositories"]] == names[:2]
    assert "nextToken" not in chosen
