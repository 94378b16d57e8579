"""Several images built and pushed at once on the real engine and registry, one line of
progress per image, and a failed build stopping the deploy before anything is pushed."""

from __future__ import annotations

import io
import os
import re
import socket
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from hybridless.errors import PhaseError
from hybridless.images.build import build_image
from hybridless.images.context import collect
from hybridless.model import Image
from hybridless.report import Reporter
from tests.conftest import GroundHandle
from tests.integration.hello import App
from tests.support import FlakyProxy, prepare_account

WORKERS = ("Alpha", "Beta", "Gamma", "Delta")
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG NAME
ARG NONCE
RUN sleep 2 && echo "$NAME $NONCE" > /name
CMD ["cat", "/name"]
"""
STAMP = re.compile(r"^\[\s*(\d+\.\d)s\] (\w+)-0: (.*)$")


def config(concurrency: int, broken: str | None = None, dockerfile: str = "Dockerfile") -> str:
    functions = "".join(
        f"""\
    {name}:
      events:
        - eventType: process
          runtime: container
          dockerFile: {"Dockerfile.broken" if name == broken else dockerfile}
          dockerBuildArgs:
            BASE_IMAGE: "${{env:PYTHON_IMAGE}}"
            NAME: {name}
            NONCE: "${{env:NONCE}}"
"""
        for name in WORKERS
    )
    return f"""\
service: fleet
provider:
  stage: ${{opt:stage, 'dev'}}
  vpc:
    vpcId: ${{env:VPC_ID}}
    subnetIds: ["${{env:SUBNET_A}}", "${{env:SUBNET_B}}"]
    securityGroupIds: ["${{env:SECURITY_GROUP_ID}}"]
hybridless:
  buildConcurrency: {concurrency}
  functions:
{functions}"""


@pytest.fixture
def fleet(ground_env: GroundHandle, tmp_path: Path, unique: str) -> App:
    directory = tmp_path / "fleet"
    directory.mkdir()
    (directory / "Dockerfile").write_text(DOCKERFILE)
    (directory / "Dockerfile.broken").write_text(
        DOCKERFILE.replace(
            'RUN sleep 2 && echo "$NAME $NONCE"', 'RUN echo "about to fail" && false'
        )
    )
    # Tiny images, for tests about the push: a base layer would be compressed for each push.
    (directory / "Dockerfile.small").write_text("FROM scratch\nCOPY Dockerfile.small /\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ground_env.env,
        **prepare_account(ground_env.env, unique),
        "GITHUB_SHA": "89abcdef",
        "NONCE": unique,  # the engine's layer cache must not make the builds instant
    }
    return App(directory, f"t{unique}", env)


def progress(log: str) -> dict[str, list[tuple[float, str]]]:
    """Each image's lines, with the time they were written."""
    lines: dict[str, list[tuple[float, str]]] = {}
    for line in log.splitlines():
        match = STAMP.match(line)
        if match:
            lines.setdefault(match[2], []).append((float(match[1]), match[3]))
    return lines


def test_images_build_two_at_a_time_and_push_together(fleet: App) -> None:
    (fleet.directory / "hybridless.yml").write_text(config(concurrency=2))

    result = fleet.deploy("--method", "direct")

    assert result.returncode == 0, result.log
    assert result.outputs is not None
    assert "building 4 image(s), 2 at a time" in result.log
    assert "pushing 4 image(s), 4 at a time" in result.log
    lines = progress(result.log)
    assert set(lines) == set(WORKERS)
    started = {
        name: next(t for t, text in lines[name] if text.startswith("Step 1/")) for name in WORKERS
    }
    built = {
        name: next(t for t, text in lines[name] if text.startswith("built in")) for name in WORKERS
    }
    # Each image reports on its own lines: its steps, when it was built, when it was pushed.
    for name in WORKERS:
        assert any(text.startswith("pushed fleet/") for _, text in lines[name]), lines[name]
    # Two builds run at once: the second starts before the first is done, the third only
    # after one of them finished.
    order = sorted(WORKERS, key=lambda n: started[n])
    assert started[order[1]] < built[order[0]]
    assert started[order[2]] >= min(built[order[0]], built[order[1]]) - 0.2
    assert set(result.outputs["images"]) == {f"{name}-0" for name in WORKERS}


def test_a_failed_build_stops_the_deploy_before_any_push(fleet: App) -> None:
    (fleet.directory / "hybridless.yml").write_text(config(concurrency=2, broken="Gamma"))

    result = fleet.deploy("--method", "direct")

    assert result.returncode != 0
    assert "build failed: Gamma-0 (Dockerfile.broken)" in result.log
    assert "about to fail" in result.log
    assert "── push" not in result.log
    ecr = boto3.client("ecr")
    for name in WORKERS:
        with pytest.raises(ClientError, match="RepositoryNotFoundException"):
            ecr.describe_repositories(repositoryNames=[f"fleet/{name.lower()}-0-{fleet.stage}"])
    cloudformation = boto3.client("cloudformation")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=f"fleet-{fleet.stage}")


def test_a_push_through_a_dropped_connection_is_tried_again(fleet: App) -> None:
    (fleet.directory / "hybridless.yml").write_text(config(2, dockerfile="Dockerfile.small"))
    proxy = FlakyProxy(fleet.env["HYBRIDLESS_REGISTRY"], window=0.5)
    try:
        result = fleet.deploy("--method", "direct", "--registry", proxy.address)
    finally:
        proxy.close()

    assert result.returncode == 0, result.log
    assert proxy.dropped >= 1
    assert "push failed" in result.log and "trying again in 1s (attempt 2 of 6)" in result.log
    assert result.outputs is not None
    assert set(result.outputs["images"]) == {f"{name}-0" for name in WORKERS}


def test_a_push_that_keeps_failing_fails_the_deploy_before_the_stack(fleet: App) -> None:
    (fleet.directory / "hybridless.yml").write_text(config(2, dockerfile="Dockerfile.small"))
    closed = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()  # nothing listens there now

    result = fleet.deploy("--method", "direct", "--registry", address)

    assert result.returncode != 0
    assert "attempt 6 of 6" in result.log
    assert "push failed: fleet/" in result.log
    assert "── package" not in result.log
    with pytest.raises(ClientError, match="does not exist"):
        boto3.client("cloudformation").describe_stacks(StackName=f"fleet-{fleet.stage}")


@pytest.mark.parametrize(("platform", "ok"), [("linux/amd64", True), ("linux/arm64", False)])
def test_an_image_is_built_for_the_platform_asked_or_not_at_all(
    ground_env: GroundHandle, tmp_path: Path, platform: str, ok: bool
) -> None:
    """The ground's engine has no emulation and its base image exists for amd64 only: asking
    for arm64 must fail the build instead of shipping an amd64 image labelled arm64."""
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    image = Image(
        name="Plat-0",
        repository="plat/plat-0-dev",
        context=tmp_path,
        dockerfile="Dockerfile",
        build_args=(("BASE_IMAGE", ground_env.env["HYBRIDLESS_GROUND_BASE_IMAGE"]), ("NAME", "p")),
        platform=platform,
    )
    docker = ground_env.docker()
    reporter = Reporter(stream=io.StringIO())
    if ok:
        image_id = build_image(
            docker, image, collect(image), "hybridless-test/plat:amd64", reporter
        )
        assert docker.api.inspect_image(image_id)["Architecture"] == "amd64"
    else:
        with pytest.raises(
            PhaseError, match="linux/arm64 was asked for, but the engine built linux/amd64"
        ):
            build_image(docker, image, collect(image), "hybridless-test/plat:arm64", reporter)
