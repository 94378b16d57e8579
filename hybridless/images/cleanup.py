"""After a successful deploy, delete the images nothing uses any more.

Only images that are safe to lose are deleted: an image is kept when a live resource of the
stack references it (by digest or by tag), when it is untagged, or when any of its tags was not
made by this tool. What is left are images this tool pushed for earlier deploys that no longer
run. `plan_deletions` is that rule as a pure function; the rest is reading the stack and ECR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hybridless.errors import PhaseError

BATCH = 100


@dataclass(frozen=True)
class StoredImage:
    digest: str
    tags: tuple[str, ...]


def plan_deletions(
    images: Iterable[StoredImage],
    live_digests: set[str],
    live_tags: set[str],
    is_ours: Callable[[str], bool],
) -> list[StoredImage]:
    doomed = []
    for image in images:
        if image.digest in live_digests or not image.tags:
            continue
        if any(tag in live_tags or not is_ours(tag) for tag in image.tags):
            continue
        doomed.append(image)
    return doomed


def list_images(ecr: Any, repository: str) -> list[StoredImage]:
    by_digest: dict[str, set[str]] = {}
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repository):
        for image_id in page["imageIds"]:
            tags = by_digest.setdefault(image_id["imageDigest"], set())
            if "imageTag" in image_id:
                tags.add(image_id["imageTag"])
    return [StoredImage(digest, tuple(sorted(tags))) for digest, tags in by_digest.items()]


def delete_images(
    ecr: Any, repository: str, images: list[StoredImage]
) -> tuple[list[StoredImage], list[str]]:
    """Delete in batches of at most 100 (ECR refuses more); return the images deleted and one
    line per image ECR refused to delete."""
    failures: list[str] = []
    refused: set[str] = set()
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH]
        response = ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageDigest": i.digest} for i in batch]
        )
        for failure in response.get("failures", []):
            digest = str(failure.get("imageId", {}).get("imageDigest", "?"))
            refused.add(digest)
            failures.append(
                f"{repository}@{digest}: {failure.get('failureCode')}: "
                f"{failure.get('failureReason')}"
            )
    return [i for i in images if i.digest not in refused], failures


def live_image_references(aws_clients: Callable[[str], Any], stack_name: str) -> set[str]:
    """Every image URI the stack's task definitions, services and functions point at."""
    resources = stack_resources(aws_clients("cloudformation"), stack_name)
    references: set[str] = set()
    ecs = aws_clients("ecs")
    lambda_ = aws_clients("lambda")
    clusters = [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::ECS::Cluster" and r.get("PhysicalResourceId")
    ]
    task_definitions: set[str] = set()
    for resource in resources:
        kind = resource["ResourceType"]
        physical = resource.get("PhysicalResourceId")
        if not physical:
            continue
        if kind == "AWS::ECS::TaskDefinition":
            task_definitions.add(physical)
        elif kind == "AWS::ECS::Service":
            task_definitions.update(_service_task_definitions(ecs, physical, clusters))
        elif kind == "AWS::Lambda::Function":
            references.update(_function_images(lambda_, physical))
    for arn in sorted(task_definitions):
        definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        references.update(
            c["image"] for c in definition.get("containerDefinitions", []) if c.get("image")
        )
    return references


def stack_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    """The resources of the stack and of every stack nested in it: a big app's services live
    in nested stacks, and an image they run is as live as one the root runs."""
    resources: list[dict[str, Any]] = []
    pending = [stack_name]
    while pending:
        paginator = cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=pending.pop()):
            for resource in page["StackResourceSummaries"]:
                resources.append(resource)
                if resource["ResourceType"] == "AWS::CloudFormation::Stack" and resource.get(
                    "PhysicalResourceId"
                ):
                    pending.append(resource["PhysicalResourceId"])
    return resources


def _service_task_definitions(ecs: Any, service_arn: str, clusters: list[str]) -> list[str]:
    """The revisions a service runs, including those of a deployment still in flight. Not
    knowing is an error, never an empty answer: an empty answer would let cleanup delete the
    image a service runs."""
    cluster = _cluster_of(service_arn) or (clusters[0] if len(clusters) == 1 else None)
    if not cluster:
        raise PhaseError("cleanup", f"cannot tell which cluster runs {service_arn}")
    services = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    if not services:
        raise PhaseError("cleanup", f"ECS does not describe {service_arn}")
    revisions = []
    for service in services:
        if service.get("taskDefinition"):
            revisions.append(service["taskDefinition"])
        revisions.extend(
            d["taskDefinition"] for d in service.get("deployments", []) if d.get("taskDefinition")
        )
    return revisions


def _cluster_of(service_arn: str) -> str | None:
    # arn:aws:ecs:region:account:service/cluster/name (the long ARN format)
    parts = service_arn.split(":", 5)[-1].split("/")
    return parts[1] if len(parts) == 3 else None


def _function_images(lambda_: Any, name: str) -> Iterator[str]:
    """The image of the function and of every published version."""
    for page in lambda_.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        for version in page["Versions"]:
            code = lambda_.get_function(FunctionName=name, Qualifier=version["Version"]).get(
                "Code", {}
            )
            for key in ("ImageUri", "ResolvedImageUri"):
                if code.get(key):
                    yield code[key]


def split_reference(uri: str) -> tuple[str, str | None, str | None]:
    """`host/repo@sha256:..` or `host/repo:tag` → (repository, digest, tag)."""
    if "@" in uri:
        name, digest = uri.split("@", 1)
        return name.split("/", 1)[-1], digest, None
    name, _, tag = uri.rpartition(":")
    if "/" in tag or not name:
        return uri.split("/", 1)[-1], None, None
    return name.split("/", 1)[-1], None, tag
