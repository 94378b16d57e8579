"""An image's `platform` reaches the CloudFormation that runs it.

An image built for linux/arm64 must run on ARM64: ECS task definitions say so in
`RuntimePlatform` (Fargate runs x86_64 otherwise), Lambda functions in `Architectures`. On the
EC2 launch type a placement constraint keeps the tasks on instances of that CPU. An app that
names no platform renders exactly as before. Every template here passes cfn-lint with no
finding at all, and the tool's own gate (`check_template`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless.config import load_app
from hybridless.model import App, Overrides
from hybridless.report import Reporter
from hybridless.stack.validate import check_template, lint_template
from hybridless.template import render, to_json

REGION = "us-east-1"
ENVIRON = {"AWS_REGION": REGION}
DIGEST = "sha256:" + "a" * 64
CODE = {"S3Bucket": "deploy-artifacts", "S3Key": "k.zip"}
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/shared"
HEAD = """\
service: shop
provider:
  vpc:
    vpcId: vpc-0a1b2c3d4e5f60718
    subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0b1b2c3d4e5f60719]
hybridless:
"""
# Task definitions and functions: where a platform shows, and what it adds there.
PLATFORM_KEYS = {"RuntimePlatform", "PlacementConstraints", "Architectures"}


def load(tmp_path: Path, text: str) -> App:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_app(path, Overrides(), ENVIRON)


def render_app(app: App) -> dict[str, Any]:
    images = {
        image.name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{image.repository}@{DIGEST}"
        for image in app.images
    }
    return render(app, images, {zipped.name: dict(CODE) for zipped in app.code})


def rendered(tmp_path: Path, text: str) -> dict[str, Any]:
    """The app's template, after asserting cfn-lint has nothing at all to say about it."""
    template = render_app(load(tmp_path, text))
    findings = lint_template(to_json(template), REGION)
    assert findings == [], "\n".join(map(str, findings))
    return template


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]  # type: ignore[no-any-return]


def without_platform(template: dict[str, Any]) -> dict[str, Any]:
    """The template with what a platform adds taken out again."""
    copy: dict[str, Any] = json.loads(json.dumps(template))
    for resource in copy["Resources"].values():
        for key in PLATFORM_KEYS:
            resource.get("Properties", {}).pop(key, None)
    return copy


def platform_keys(template: dict[str, Any]) -> set[str]:
    return {
        f"{name}.{key}"
        for name, resource in template["Resources"].items()
        for key in PLATFORM_KEYS & set(resource.get("Properties", {}))
    }


# --- ECS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "cpu"), [("linux/arm64", "ARM64"), ("linux/amd64", "X86_64")])
def test_a_fargate_task_runs_on_the_cpu_its_image_was_built_for(
    tmp_path: Path, platform: str, cpu: str
) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + f"""\
  functions:
    Web:
      events:
        - {{eventType: httpd, runtime: container, platform: {platform}}}
    Worker:
      events:
        - {{eventType: process, runtime: container, platform: {platform}}}
    Nightly:
      events:
        - {{eventType: scheduledTask, runtime: container, platform: {platform},
            schedulerRate: rate(1 day)}}
""",
    )

    for name in ("WebTaskDefinition", "WorkerTaskDefinition", "NightlyTaskDefinition"):
        task = props(template, name)
        assert task["RuntimePlatform"] == {"CpuArchitecture": cpu, "OperatingSystemFamily": "LINUX"}
        assert task["RequiresCompatibilities"] == ["FARGATE"]
        assert "PlacementConstraints" not in task, "Fargate takes no placement constraints"


@pytest.mark.parametrize(
    ("platform", "cpu", "instance_cpu"),
    [("linux/arm64", "ARM64", "arm64"), ("linux/amd64", "X86_64", "x86_64")],
)
def test_an_ec2_task_is_placed_on_instances_of_its_cpu(
    tmp_path: Path, platform: str, cpu: str, instance_cpu: str
) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + f"""\
  functions:
    Api:
      ecsClusterArn: {CLUSTER_ARN}
      events:
        - eventType: httpd
          runtime: container
          ec2LaunchType: true
          platform: {platform}
""",
    )

    task = props(template, "ApiTaskDefinition")

    assert task["RequiresCompatibilities"] == ["EC2"]
    assert task["RuntimePlatform"] == {"CpuArchitecture": cpu, "OperatingSystemFamily": "LINUX"}
    assert task["PlacementConstraints"] == [
        {"Type": "memberOf", "Expression": f"attribute:ecs.cpu-architecture == {instance_cpu}"}
    ]


# --- Lambda -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "architecture"), [("linux/arm64", "arm64"),
                                                         ("linux/amd64", "x86_64")])  # fmt: skip
def test_a_container_function_runs_on_the_architecture_of_its_image(
    tmp_path: Path, platform: str, architecture: str
) -> None:
    template = rendered(
        tmp_path,
        f"""\
service: jobs
hybridless:
  functions:
    Resize:
      events:
        - {{eventType: lambdaContainer, runtime: container, platform: {platform}}}
""",
    )

    assert props(template, "ResizeFunction")["Architectures"] == [architecture]


def test_a_built_in_runtime_image_carries_its_platform_too(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + """\
  functions:
    Api:
      handler: src/api.handler
      events:
        - {eventType: httpd, runtime: nodejs22, platform: linux/arm64}
        - {eventType: lambdaContainer, runtime: python3.12, platform: linux/arm64}
""",
    )

    assert props(template, "ApiTaskDefinition")["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    assert props(template, "ApiEvent1Function")["Architectures"] == ["arm64"]


def test_a_shared_image_s_platform_reaches_every_event_that_runs_it(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + """\
  images:
    app: {platform: linux/arm64}
    plain: {}
  functions:
    Api:
      events:
        - {eventType: httpd, runtime: container, imageId: app}
        - {eventType: lambdaContainer, runtime: container, imageId: app}
        - {eventType: process, runtime: container, imageId: plain}
""",
    )

    assert props(template, "ApiTaskDefinition")["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    assert props(template, "ApiEvent1Function")["Architectures"] == ["arm64"]
    assert platform_keys(template) == {"ApiTaskDefinition.RuntimePlatform",
                                       "ApiEvent1Function.Architectures"}  # fmt: skip


# --- no platform, no change ---------------------------------------------------------------------

MIXED = (
    HEAD
    + """\
  functions:
    Api:
      ecsClusterArn: {cluster}
      events:
        - {{eventType: httpd, runtime: container{platform}}}
        - {{eventType: process, runtime: container, ec2LaunchType: true{platform}}}
        - {{eventType: lambdaContainer, runtime: container{platform}}}
    Zip:
      handler: app.handler
      events:
        - {{eventType: lambda, runtime: python3.12}}
"""
)


def test_an_app_without_a_platform_renders_as_it_did(tmp_path: Path) -> None:
    """Same app, with and without `platform`: the platform's keys are all that differ, so an
    app that names none gets the template it had before platforms existed."""
    plain = rendered(tmp_path, MIXED.format(cluster=CLUSTER_ARN, platform=""))
    arm = rendered(tmp_path, MIXED.format(cluster=CLUSTER_ARN, platform=", platform: linux/arm64"))

    assert platform_keys(plain) == set()
    assert platform_keys(arm) == {
        "ApiTaskDefinition.RuntimePlatform",
        "ApiEvent1TaskDefinition.RuntimePlatform",
        "ApiEvent1TaskDefinition.PlacementConstraints",
        "ApiEvent2Function.Architectures",
    }
    assert without_platform(arm) == plain
    assert "Architectures" not in props(arm, "ZipFunction"), "a zip has no image platform"


def test_the_tool_s_own_template_check_accepts_platforms(tmp_path: Path) -> None:
    """`check_template` is what a deploy runs before anything is built: it must not stop."""
    template = render_app(
        load(tmp_path, MIXED.format(cluster=CLUSTER_ARN, platform=", platform: linux/arm64"))
    )
    stream = io.StringIO()

    check_template(to_json(template), REGION, Reporter(stream, environ={}))

    assert "cfn-lint" not in stream.getvalue()
