"""Publish the built images to ECR under this deploy's tag.

Repositories are created on first use (scan on push, encrypted, tagged), with a lifecycle
policy that keeps the newest 100 *tagged* images: a failsafe so that a long run of failed
deploys, which never reach cleanup, cannot grow a repository without bound. A repository that
already has a lifecycle policy keeps its own.

The registry password from `GetAuthorizationToken` is masked before anything is printed. The
registry address is ECR's own unless `--registry` / `HYBRIDLESS_REGISTRY` names another (a VPC
endpoint, a pull-through cache); every other call still goes through ECR's API. Templates always
name the repository's canonical URI with the pushed digest.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from docker import errors as docker_errors

from hybridless.errors import PhaseError
from hybridless.report import Reporter

KEEP_TAGGED = 100
LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"hybridless failsafe: keep the newest {KEEP_TAGGED} tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": KEEP_TAGGED,
                },
                "action": {"type": "expire"},
            }
        ]
    },
    sort_keys=True,
)


@dataclass(frozen=True)
class Registry:
    address: str
    username: str
    password: str

    @property
    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def ensure_repository(ecr: Any, name: str, tags: Mapping[str, str], reporter: Reporter) -> str:
    """The repository's URI, creating the repository when it does not exist."""
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as err:
        if _error_code(err) != "RepositoryNotFoundException":
            raise
        create: dict[str, Any] = {
            "repositoryName": name,
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfiguration": {"encryptionType": "AES256"},
            "imageTagMutability": "MUTABLE",
        }
        if tags:
            create["tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        repository = ecr.create_repository(**create)["repository"]
        reporter.info(f"created repository {name}")
    try:
        ecr.get_lifecycle_policy(repositoryName=name)
    except ClientError as err:
        if _error_code(err) != "LifecyclePolicyNotFoundException":
            raise
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE_POLICY)
        reporter.info(f"{name}: lifecycle failsafe set (keep the newest {KEEP_TAGGED} tagged)")
    return str(repository["repositoryUri"])


def login(ecr: Any, override: str | None, reporter: Reporter) -> Registry:
    data = ecr.get_authorization_token()["authorizationData"][0]
    token = data["authorizationToken"]
    reporter.mask(token)
    username, _, password = base64.b64decode(token).decode().partition(":")
    reporter.mask(password)
    endpoint = str(data.get("proxyEndpoint", ""))
    address = override or endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not address:
        raise PhaseError("push", "ECR returned no registry endpoint; pass --registry HOST[:PORT]")
    return Registry(address=address, username=username, password=password)


def push_image(docker: Any, registry: Registry, local_name: str, repository: str, tag: str) -> str:
    """Push `local_name` as `repository:tag` and return the digest the registry reports."""
    remote = f"{registry.address}/{repository}"
    docker.api.tag(local_name, remote, tag)
    digest = None
    try:
        for chunk in docker.api.push(
            remote, tag=tag, auth_config=registry.auth_config, stream=True, decode=True
        ):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise PhaseError("push", f"{repository}:{tag} to {registry.address}: {detail}")
            digest = chunk.get("aux", {}).get("Digest", digest)
    finally:
        with contextlib.suppress(docker_errors.DockerException):
            docker.api.remove_image(f"{remote}:{tag}", noprune=True)
    if not digest:
        raise PhaseError("push", f"{repository}:{tag}: the registry reported no digest")
    return str(digest)


def confirm_in_ecr(ecr: Any, repository: str, digest: str, tag: str, address: str) -> None:
    """Fail early when the push landed somewhere ECR does not see (a wrong --registry)."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ]
    except ClientError as err:
        if _error_code(err) != "ImageNotFoundException":
            raise
        found = []
    if not found or tag not in found[0].get("imageTags", []):
        raise PhaseError(
            "push",
            f"{repository}:{tag} was pushed to {address}, but ECR does not list it: is the "
            "registry address the repository's registry?",
        )
