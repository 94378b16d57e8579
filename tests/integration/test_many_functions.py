"""An app bigger than one stack can hold: 120 HTTP services sharing one image, one cluster and
one listener, rendered into nested stacks and deployed on the proving ground."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from tests.conftest import GroundHandle
from tests.support import prepare_account

HYBRIDLESS = Path(sys.executable).parent / "hybridless"
FUNCTIONS = 120
LIMITS = {"Resources": 500, "Outputs": 200, "Parameters": 200}
TEMPLATE_BYTES = 1_000_000


def big_app(directory: Path, functions: int) -> Path:
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM scratch\nCOPY payload /payload\n")
    (directory / "payload").write_text("one image for every service\n")
    lines = [
        "service: many",
        "provider:",
        "  vpc:",
        "    vpcId: ${env:VPC_ID}",
        "    subnetIds:",
        "      - ${env:SUBNET_A}",
        "      - ${env:SUBNET_B}",
        "hybridless:",
        "  images:",
        "    app: {dockerFile: Dockerfile}",
        "  functions:",
    ]
    for number in range(1, functions + 1):
        lines += [
            f"    Service{number}:",
            "      memory: 512",
            "      events:",
            "        - eventType: httpd",
            "          runtime: container",
            "          imageId: app",
            "          cpu: 256",
            "          port: 8080",
            "          routes:",
            f"            - {{path: /s{number}/*}}",
        ]
    config = directory / "hybridless.yml"
    config.write_text("\n".join(lines) + "\n")
    return config


def run(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(HYBRIDLESS), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def test_120_services_render_into_nested_stacks_within_every_limit_and_deploy(
    ground_env: GroundHandle, tmp_path: Path, unique: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ground_env.env,
        **prepare_account(ground_env.env, unique),
    }
    config = big_app(tmp_path / "many", FUNCTIONS)
    stage = f"t{unique}"

    rendered = tmp_path / "rendered"
    offline = run(
        env, "template", "--config", str(config), "--stage", stage, "--account-id",
        "123456789012", "--image-tag", "v1", "--output-dir", str(rendered),
    )  # fmt: skip
    assert offline.returncode == 0, offline.stdout + offline.stderr
    files = sorted(p.name for p in rendered.iterdir())
    children = [name for name in files if name != "template.json"]
    assert "template.json" in files and len(children) >= 2, files
    services = 0
    for name in files:
        body = (rendered / name).read_bytes()
        template = json.loads(body)
        assert len(body) <= TEMPLATE_BYTES, name
        for section, limit in LIMITS.items():
            assert len(template.get(section, {})) <= limit, (name, section)
        services += sum(
            1 for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"
        )
    assert services == FUNCTIONS
    root = json.loads((rendered / "template.json").read_text())
    nested = {
        k: r for k, r in root["Resources"].items() if r["Type"] == "AWS::CloudFormation::Stack"
    }
    assert sorted(f"{k}.json" for k in nested) == children
    again = tmp_path / "again"
    run(env, "template", "--config", str(config), "--stage", stage, "--account-id",
        "123456789012", "--image-tag", "v1", "--output-dir", str(again))  # fmt: skip
    assert all((again / n).read_bytes() == (rendered / n).read_bytes() for n in files)

    outputs_file = tmp_path / "outputs.json"
    deployed = run(
        env, "deploy", "--config", str(config), "--stage", stage, "--method", "direct",
        "--outputs-file", str(outputs_file),
    )  # fmt: skip
    log = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0, log
    assert f"and {len(children)} nested stack(s)" in log
    outputs = json.loads(outputs_file.read_text())
    assert outputs["stack-status"] == "CREATE_COMPLETE"
    assert outputs["outputs"]["Service120ServiceName"]
    assert outputs["outputs"]["ServiceEndpoint"].startswith("http://")

    ecs = boto3.client("ecs")
    cluster = outputs["outputs"]["ClusterName"]
    arns = [
        arn
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
        for arn in page["serviceArns"]
    ]
    assert len(arns) == FUNCTIONS
    elb = boto3.client("elbv2")
    (balancer,) = [
        b
        for page in elb.get_paginator("describe_load_balancers").paginate()
        for b in page["LoadBalancers"]
        if outputs["outputs"]["ServiceEndpoint"].endswith(b["DNSName"])
    ]
    (listener,) = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    rules = [
        rule
        for page in elb.get_paginator("describe_rules").paginate(
            ListenerArn=listener["ListenerArn"]
        )
        for rule in page["Rules"]
        if not rule["IsDefault"]
    ]
    assert len(rules) == FUNCTIONS
    assert len({rule["Priority"] for rule in rules}) == FUNCTIONS

    unchanged = run(env, "deploy", "--config", str(config), "--stage", stage, "--method", "direct")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "(no changes)" in unchanged.stdout + unchanged.stderr
