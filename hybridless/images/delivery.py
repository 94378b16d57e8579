"""From the app's images to digests in ECR, doing as little as the changes since the last
deploy require.

    plan: hash each image's build context; ask ECR for an image under that content tag
    build: build the images ECR does not have, a few at a time
    deliver: push those, a few at a time; give every image this deploy's tag

An image whose context hashes the same as one ECR already holds is not built and not pushed:
`PutImage` gives the held manifest this deploy's tag, one API call, no registry traffic. So a
redeploy of an unchanged app writes nothing to the registry, and its template names the same
digests as before, which CloudFormation sees as no change at all. An image that is pushed also
gets its content tag, so the next deploy finds it. The content tag is the tool's own: cleanup
deletes it with the image once nothing needs the image any more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hybridless.errors import PhaseError
from hybridless.images import push
from hybridless.images.build import build_all
from hybridless.images.context import BuildContext, collect
from hybridless.model import Image
from hybridless.report import Reporter

PUSH_CONCURRENCY = 4


@dataclass(frozen=True)
class Planned:
    image: Image
    context: BuildContext
    content_tag: str
    stored: push.Stored | None  # in ECR already under the content tag: not built, not pushed

    @property
    def local_name(self) -> str:
        return f"hybridless-build/{self.image.repository}:latest"


def plan(ecr: Any, images: Sequence[Image], rebuild: bool, reporter: Reporter) -> list[Planned]:
    """Each image hashed and looked up in ECR. The lookups run side by side: against a registry
    across a network each is a round trip, and an unchanged app's redeploy is little else."""
    contexts = [collect(image) for image in images]
    content_tags = [context.content_tag() for context in contexts]

    def lookup(image: Image, content_tag: str) -> push.Stored | None:
        return None if rebuild else push.find_by_tag(ecr, image.repository, content_tag)

    workers = max(1, min(PUSH_CONCURRENCY, len(images)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lookup") as pool:
        found = list(pool.map(lookup, images, content_tags))
    planned = []
    for image, context, content_tag, stored in zip(
        images, contexts, content_tags, found, strict=True
    ):
        short = content_tag.removeprefix("content-")[:12]
        if stored is not None:
            reporter.info(
                f"{image.name}: unchanged (content {short}), {image.repository}@{stored.digest} "
                "is reused: not built, not pushed"
            )
        else:
            why = "--rebuild" if rebuild else "new content"
            reporter.info(f"{image.name}: {why} ({short}), to build")
        planned.append(Planned(image, context, content_tag, stored))
    return planned


def build(docker: Any, planned: Sequence[Planned], concurrency: int, reporter: Reporter) -> None:
    builds = [(p.image, p.context, p.local_name) for p in planned if p.stored is None]
    build_all(docker, builds, concurrency, reporter)


def deliver(
    ecr: Any,
    docker: Any,
    planned: Sequence[Planned],
    tag: str,
    repository_tags: Mapping[str, str],
    registry_override: str | None,
    reporter: Reporter,
    concurrency: int = PUSH_CONCURRENCY,
) -> dict[str, str]:
    """Every image in ECR under `tag`; returns {image name: repository URI @ digest}."""
    if not planned:
        return {}
    to_push = [p for p in planned if p.stored is None]
    registry = push.login(ecr, registry_override, reporter) if to_push else None
    workers = max(1, min(concurrency, len(planned)))
    if len(to_push) > 1 and workers > 1:
        reporter.info(f"pushing {len(to_push)} image(s), {min(workers, len(to_push))} at a time")

    def one(p: Planned) -> str:
        if p.stored is not None:
            return _reuse(ecr, p, p.stored, tag, reporter)
        assert registry is not None
        return _push(ecr, docker, registry, p, tag, repository_tags, reporter)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        return dict(zip((p.image.name for p in planned), pool.map(one, planned), strict=True))


def _reuse(ecr: Any, planned: Planned, stored: push.Stored, tag: str, reporter: Reporter) -> str:
    """One PutImage; the repository exists, as the image was found in it."""
    repository = planned.image.repository
    push.put_tag(ecr, repository, stored, tag)
    reporter.info(f"{planned.image.name}: tagged {repository}:{tag} (no push)")
    return f"{stored.uri(repository, ecr.meta.region_name)}@{stored.digest}"


def _push(
    ecr: Any,
    docker: Any,
    registry: push.Registry,
    planned: Planned,
    tag: str,
    repository_tags: Mapping[str, str],
    reporter: Reporter,
) -> str:
    repository = planned.image.repository
    uri = push.ensure_repository(ecr, repository, repository_tags, reporter)
    digest = push.push_image(
        docker, registry, planned.local_name, repository, tag, reporter, planned.image.name
    )
    stored = push.find_by_digest(ecr, repository, digest)
    if stored is None:
        raise PhaseError(
            "push",
            f"{repository}:{tag} was pushed to {registry.address}, but ECR does not list it: is "
            "the registry address the repository's registry?",
        )
    push.put_tag(ecr, repository, stored, planned.content_tag)
    return f"{uri}@{digest}"
