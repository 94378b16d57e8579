"""Publish the built images to ECR under this deploy's tag.

Repositories are created on first use (scan on push, encrypted, tagged), with a lifecycle
policy that keeps the newest 100 *tagged* images: a failsafe so that a long run of failed
deploys, which never reach cleanup, cannot grow a repository without bound. A repository that
already has a lifecycle policy keeps its own.

The registry password from `GetAuthorizationToken` is masked before anything is printed. The
registry address is ECR's own unless `--registry` / `HYBRIDLESS_REGISTRY` names another (a VPC
endpoint, a pull-through cache); every other call still goes through ECR's API. Templates always
name the repository's canonical URI with the pushed digest.

An image ECR already holds under its content tag is not pushed at all: `PutImage` gives its
manifest this deploy's tag, one API call and no upload. A push that fails on the way (a reset
connection, a registry answering 5xx or "too many requests") is tried again with a growing pause
(1, 2, 4, 8 and 16 seconds: a registry that throttles needs longer than a dropped connection);
one that fails for a reason that will not go away (denied, unknown repository) fails at once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from docker import errors as docker_errors

from hybridless.errors import PhaseError
from hybridless.report import Reporter

KEEP_TAGGED = 100
PUSH_ATTEMPTS = 6
PROGRESS_EVERY_SECONDS = 10.0
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]
TRANSIENT = (
    "connection reset", "connection refused", "broken pipe", "i/o timeout", "timeout",
    "tls handshake", "unexpected eof", ": eof", "use of closed network connection",
    "toomanyrequests", "too many requests", "500 internal server error", "502 bad gateway",
    "503 service unavailable", "504 gateway", "received unexpected http status: 5",
    "http 429", "http 500", "http 502", "http 503", "http 504",
)  # fmt: skip
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


@dataclass(frozen=True)
class Stored:
    """An image ECR holds: enough to give it another tag without the registry."""

    digest: str
    manifest: str
    media_type: str
    registry_id: str = ""

    def uri(self, repository: str, region: str) -> str:
        """The repository's canonical URI, without asking ECR: the registry id is the account."""
        domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.registry_id}.dkr.ecr.{region}.{domain}/{repository}"


def find_by_tag(ecr: Any, repository: str, tag: str) -> Stored | None:
    """The image tagged `tag`, or None when the repository or the tag does not exist."""
    return _find(ecr, repository, {"imageTag": tag})


def find_by_digest(ecr: Any, repository: str, digest: str) -> Stored | None:
    return _find(ecr, repository, {"imageDigest": digest})


def _find(ecr: Any, repository: str, image_id: dict[str, str]) -> Stored | None:
    try:
        response = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[image_id],
            acceptedMediaTypes=MANIFEST_TYPES,
        )
    except ClientError as err:
        if _error_code(err) == "RepositoryNotFoundException":
            return None
        raise
    for image in response.get("images", []):
        if image.get("imageManifest") and image.get("imageId", {}).get("imageDigest"):
            return Stored(
                digest=str(image["imageId"]["imageDigest"]),
                manifest=str(image["imageManifest"]),
                media_type=str(image.get("imageManifestMediaType") or ""),
                registry_id=str(image.get("registryId") or ""),
            )
    return None


def put_tag(ecr: Any, repository: str, stored: Stored, tag: str) -> None:
    """Give `stored` the tag `tag` (PutImage). Already carrying it is success."""
    request: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": stored.manifest,
        "imageTag": tag,
        "imageDigest": stored.digest,
    }
    if stored.media_type:
        request["imageManifestMediaType"] = stored.media_type
    try:
        ecr.put_image(**request)
    except ClientError as err:
        if _error_code(err) != "ImageAlreadyExistsException":
            raise


def is_transient(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in TRANSIENT)


@dataclass
class PushProgress:
    """What the registry said about each layer, for one line per image now and then."""

    uploaded: set[str]
    present: set[str]
    sent: dict[str, int]
    total: dict[str, int]

    @classmethod
    def start(cls) -> PushProgress:
        return cls(set(), set(), {}, {})

    def record(self, chunk: Mapping[str, Any]) -> None:
        layer = str(chunk.get("id", ""))
        status = str(chunk.get("status", ""))
        if not layer:
            return
        if status == "Pushed":
            self.uploaded.add(layer)
        elif status == "Layer already exists" or status.startswith("Mounted from"):
            self.present.add(layer)
        elif status == "Pushing":
            detail = chunk.get("progressDetail") or {}
            if detail.get("total"):
                self.total[layer] = int(detail["total"])
                self.sent[layer] = int(detail.get("current", 0))

    def line(self) -> str:
        if self.total:
            sent = sum(self.sent.values()) / 1e6
            total = sum(self.total.values()) / 1e6
            return f"uploading, {sent:.1f} of {total:.1f} MB"
        return "uploading"

    def summary(self) -> str:
        return (
            f"{len(self.uploaded)} layer(s) uploaded, {len(self.present)} already in the registry"
        )


def push_image(
    docker: Any,
    registry: Registry,
    local_name: str,
    repository: str,
    tag: str,
    reporter: Reporter,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Push `local_name` as `repository:tag` and return the digest the registry reports,
    trying again while the failure looks transient."""
    remote = f"{registry.address}/{repository}"
    docker.api.tag(local_name, remote, tag)
    try:
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                return _push_once(docker, registry, remote, repository, tag, reporter, label)
            except (PhaseError, docker_errors.DockerException, OSError) as err:
                message = str(err)
                if attempt == PUSH_ATTEMPTS or not is_transient(message):
                    if isinstance(err, PhaseError):
                        raise
                    raise PhaseError("push", f"{repository}:{tag}: {message}") from None
                pause = 2.0 ** (attempt - 1)
                reporter.warning(
                    f"{label}: push failed ({message.strip()}); trying again in {pause:.0f}s "
                    f"(attempt {attempt + 1} of {PUSH_ATTEMPTS})"
                )
                sleep(pause)
        raise AssertionError("unreachable")
    finally:
        with contextlib.suppress(docker_errors.DockerException):
            docker.api.remove_image(f"{remote}:{tag}", noprune=True)


def _push_once(
    docker: Any,
    registry: Registry,
    remote: str,
    repository: str,
    tag: str,
    reporter: Reporter,
    label: str,
) -> str:
    digest = None
    progress = PushProgress.start()
    started = last_line = time.monotonic()
    for chunk in docker.api.push(
        remote, tag=tag, auth_config=registry.auth_config, stream=True, decode=True
    ):
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise PhaseError("push", f"{repository}:{tag} to {registry.address}: {detail}")
        progress.record(chunk)
        digest = chunk.get("aux", {}).get("Digest", digest)
        now = time.monotonic()
        if now - last_line >= PROGRESS_EVERY_SECONDS:
            reporter.info(f"{label}: {progress.line()} ({now - started:.0f}s)")
            last_line = now
    if not digest:
        raise PhaseError("push", f"{repository}:{tag}: the registry reported no digest")
    reporter.info(
        f"{label}: pushed {repository}:{tag} in {time.monotonic() - started:.1f}s, "
        f"{progress.summary()}"
    )
    return str(digest)
