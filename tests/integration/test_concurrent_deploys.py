"""Two pipelines deploying one stage at the same moment, on moto: both finish, and what the
stack ends up running is intact: one deploy's cleanup must not delete the images the other is
about to put live."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from tests.integration.hello import App


def test_two_deploys_of_one_stage_at_once_both_succeed_and_leave_the_stack_whole(
    app: App,
) -> None:
    assert app.deploy().returncode == 0  # the stack exists, as it does on a team's second day
    other = App(app.directory.parent / "hello-other", app.stage, dict(app.env))
    shutil.copytree(app.directory, other.directory)
    app.change_code("Hello from the first pipeline, {audience}!")
    other.change_code("Hello from the second pipeline, {audience}!")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda a: a.deploy(), (app, other))

    for result in (first, second):
        assert result.returncode == 0, result.log
    assert first.outputs is not None and second.outputs is not None
    assert first.outputs["image-tag"] != second.outputs["image-tag"]
    assert app.stack_status() == "UPDATE_COMPLETE"
    template = json.dumps(
        boto3.client("cloudformation").get_template(StackName=app.stack_name)["TemplateBody"]
    )
    winners = [
        outputs
        for outputs in (first.outputs, second.outputs)
        if all(uri in template for uri in outputs["images"].values())
    ]
    assert len(winners) == 1, "the stack runs a mix of the two deploys' images"
    # Every image the stack's template names and every image ECS and Lambda say they run is
    # still in ECR after both cleanups.
    for name, digests in app.running_digests().items():
        for digest in digests:
            assert _stored(app, name, digest), f"{name}@{digest} runs but was deleted"
    for uri in winners[0]["images"].values():
        repository, digest = uri.split("/", 1)[1].split("@")
        assert _stored(app, repository, digest, full=True), f"{uri} is live but was deleted"


def _stored(app: App, name: str, digest: str, full: bool = False) -> Any:
    repository = name if full else app.repository(name)
    found = boto3.client("ecr").batch_get_image(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )
    return found["images"]
