"""Cleanup of a repository holding more images than one ECR page or one ECR batch.

A repository of a long-lived service accumulates images: this tool's tags of old deploys, and
also images people put there — tagged releases, untagged leftovers. After a successful deploy,
cleanup must delete exactly the tool's stale images and keep everything else. With more than
100 images, that only works if the listing follows ECR's `nextToken` and the deletes go in
batches of at most 100; the local ECR pages and refuses bigger batches as ECR does, so a tool
that did either wrong would fail here as it would on AWS.

The deploys are real (`hybridless.pipeline.deploy` of examples/hello on the ground). The extra
images are pushed straight to the registry (tests/integration/tiny_images.py), which the bridge
records in ECR like any push.
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from hybridless import pipeline
from hybridless.aws import Aws
from hybridless.images import cleanup
from hybridless.pipeline import DeployOptions, DeployResult, deploy
from hybridless.report import Reporter
from tests.conftest import GroundHandle
from tests.integration.hello import App
from tests.integration.tiny_images import TinyImages
from tests.support import ecr_tags, registry_digest

STALE = 118  # with the first deployment's image: 119 to delete, more than one batch


def generated_tag(n: int) -> str:
    """A tag of the form this tool gives a deploy, from an older deploy (in 2025)."""
    return f"2025{1 + n // 28 % 12:02d}{1 + n % 28:02d}T1200{n % 60:02d}.{n:03d}Z-{n:07x}"


def content_tag(seed: str) -> str:
    return "content-" + hashlib.sha256(seed.encode()).hexdigest()


@dataclass
class Seeded:
    """The images pushed beside the deploys, by what cleanup must do with them."""

    stale: dict[str, set[str]] = field(default_factory=dict)
    untagged: set[str] = field(default_factory=set)
    foreign: dict[str, set[str]] = field(default_factory=dict)


def seed(registry: str, repository: str, unique: str) -> Seeded:
    stale: list[tuple[str, list[str]]] = []
    for n in range(STALE):
        seed_ = f"{unique}-stale-{n}"
        if n % 40 == 1:
            tags = [content_tag(seed_)]  # a content tag alone: still the tool's own
        elif n % 10 == 2:
            tags = [generated_tag(n), content_tag(seed_)]
        else:
            tags = [generated_tag(n)]
        stale.append((seed_, tags))
    untagged: list[tuple[str, list[str]]] = [(f"{unique}-untagged-{n}", []) for n in range(3)]
    foreign = [
        (f"{unique}-release-1.0", ["release-1.0"]),
        (f"{unique}-stable", ["stable"]),
        (f"{unique}-release-1.1", ["release-1.1", generated_tag(500)]),
        (f"{unique}-v2", ["v2", content_tag(f"{unique}-v2")]),
    ]
    everything = [*stale, *untagged, *foreign]
    digests = TinyImages(registry, repository).push_all(everything)
    by_seed = dict(zip((s for s, _ in everything), digests, strict=True))
    return Seeded(
        stale={by_seed[s]: set(tags) for s, tags in stale},
        untagged={by_seed[s] for s, _ in untagged},
        foreign={by_seed[s]: set(tags) for s, tags in foreign},
    )


@dataclass
class BatchDeletes:
    """The size of every `BatchDeleteImage` the tool sends, seen on its own ECR client."""

    sizes: list[int] = field(default_factory=list)

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        made = Aws.client
        watched: set[int] = set()

        def client(aws: Aws, service: str) -> Any:
            result = made(aws, service)
            if service == "ecr" and id(result) not in watched:
                watched.add(id(result))
                result.meta.events.register(
                    "provide-client-params.ecr.BatchDeleteImage", self._seen
                )
            return result

        monkeypatch.setattr(Aws, "client", client)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.sizes.append(len(params.get("imageIds", [])))


def run_deploy(app: App, preview: bool = False) -> tuple[DeployResult, str]:
    log = io.StringIO()
    options = DeployOptions(
        config=app.directory / "hybridless.yml",
        stage=app.stage,
        method=None if preview else "direct",
        preview=preview,
    )
    result = deploy(options, Reporter(log, environ={}), environ=app.env)
    return result, log.getvalue()


def digest_of(result: DeployResult, image: str) -> str:
    return result.images[image].split("@", 1)[1]


def registry_tags(registry: str, repository: str) -> set[str]:
    url = f"http://{registry}/v2/{repository}/tags/list?n=1000"
    with urllib.request.urlopen(url, timeout=10) as response:
        return set(json.load(response).get("tags") or [])


def test_cleanup_deletes_exactly_the_stale_images_of_a_repository_of_130(
    app: App, ground_env: GroundHandle, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = app.repository("greeter-0")
    app.keep_previous(1)
    first, _ = run_deploy(app)
    app.change_code("Second, {audience}!")
    second, _ = run_deploy(app)
    seeded = seed(ground_env.registry, repository, unique)
    ecr = boto3.client("ecr")
    before = ecr_tags(ecr, repository)
    earlier = {digest_of(r, "Greeter-0") for r in (first, second)}
    assert set(before) == set(seeded.stale) | seeded.untagged | set(seeded.foreign) | earlier
    assert len(before) > 100
    web_before = set(ecr_tags(ecr, app.repository("web-0")))

    batches = BatchDeletes()
    batches.watch(monkeypatch)
    app.change_code("Third, {audience}!")
    third, log = run_deploy(app)

    deployed = digest_of(third, "Greeter-0")
    assert app.function_image() == third.images["Greeter-0"]
    stale = set(seeded.stale) | {digest_of(first, "Greeter-0")}
    kept = {deployed, digest_of(second, "Greeter-0")} | seeded.untagged | set(seeded.foreign)
    # Exactly the stale ones went: the first deployment's image is the tool's and is neither
    # live nor among the newest keepPrevious (1) earlier deployments; the second's stays.
    assert sorted(third.removed_images) == sorted(f"{repository}@{d}" for d in stale)
    assert len(stale) > 100
    assert batches.sizes and max(batches.sizes) <= 100
    assert sum(batches.sizes) == len(stale)
    assert f"{repository}: removed {len(stale)} image(s) no longer in use" in log
    assert "nothing more was deleted" not in log, log

    # What ECR lists, every page of it ...
    after = ecr_tags(ecr, repository)
    assert set(after) == kept
    for digest, tags in seeded.foreign.items():
        assert after[digest] == tags, "an image with a foreign tag lost a tag"
    assert all(after[d] == set() for d in seeded.untagged)
    assert after[digest_of(second, "Greeter-0")] == before[digest_of(second, "Greeter-0")]
    # ... is what the registry serves: no stale manifest or tag is left behind in it.
    registry = ground_env.registry
    assert all(registry_digest(registry, repository, d) == d for d in kept)
    assert all(registry_digest(registry, repository, d) is None for d in stale)
    assert registry_tags(registry, repository) == set().union(*after.values())
    # The web repository held nothing stale: each of its three images is live or kept.
    assert set(ecr_tags(ecr, app.repository("web-0"))) == web_before | {digest_of(third, "Web-0")}


# --- found while writing these tests --------------------------------------------------------


def test_an_image_a_nested_stack_uses_counts_as_live(ground_env: GroundHandle, unique: str) -> None:
    """An app too big for one stack is deployed as a root stack and nested stacks, so its task
    definitions and functions are resources of the children. Cleanup must keep what they use
    (with keepPrevious 0, or for a service still draining an older revision, nothing else
    keeps it); it reads only the root's own resources, and so misses them."""
    s3 = boto3.client("s3")
    bucket = f"nested-{unique}"
    s3.create_bucket(Bucket=bucket)
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/nested/app-{unique}@sha256:{'ab' * 32}"
    child = {
        "Resources": {
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": f"nested-{unique}",
                    "ContainerDefinitions": [{"Name": "app", "Image": image, "Memory": 512}],
                },
            }
        }
    }
    s3.put_object(Bucket=bucket, Key="child.json", Body=json.dumps(child).encode())
    root = {
        "Resources": {
            f"Child{unique}": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": f"https://{bucket}.s3.us-east-1.amazonaws.com/child.json"
                },
            }
        }
    }
    cloudformation = boto3.client("cloudformation")
    stack = f"nested-{unique}"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(root))
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )

    references = cleanup.live_image_references(Aws("us-east-1").client, stack)

    assert image in references


def test_a_deploy_under_way_keeps_its_images_through_another_deploys_cleanup(
    app: App, ground_env: GroundHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pipelines of one stage overlap (two merges in a row): while the first updates the
    stack, the second pushes its images, writes its deployment record and waits for the stack.
    The first's cleanup then finds the second's images tagged by this tool, not live, and not
    of a successful deployment, and deletes them: the second deploy then points the stack at
    images that no longer exist. The S3 side already leaves such a deployment alone (`prune`
    keeps records newer than the last success); the images need the same rule."""
    run_deploy(app)
    under_way: dict[str, str] = {}
    clean_up = pipeline.clean_up

    def overtaken(*args: Any) -> list[str]:
        # The second pipeline reaches the stack while the first is still updating it: what
        # it leaves behind is what a preview leaves (images, record, no success yet).
        app.change_code("Overtaking, {audience}!")
        other, _ = run_deploy(app, preview=True)
        under_way.update(other.images)
        return clean_up(*args)

    monkeypatch.setattr(pipeline, "clean_up", overtaken)
    app.change_code("First, {audience}!")
    first, _ = run_deploy(app)

    assert under_way and set(under_way.values()).isdisjoint(first.images.values())
    ecr = boto3.client("ecr")
    for name, uri in under_way.items():
        repository = app.repository(name.lower())
        assert uri.split("@")[1] in ecr_tags(ecr, repository), f"{name}: {uri} was deleted"
