"""examples/shop on the proving ground: all five event kinds from one code base, deployed the
way a user runs it, then deployed again unchanged, then after a change to the shared code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3

from tests.conftest import GroundHandle
from tests.support import prepare_account

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
HYBRIDLESS = Path(sys.executable).parent / "hybridless"


def deploy(directory: Path, env: dict[str, str], stage: str) -> tuple[str, dict]:
    outputs = directory / "outputs.json"
    outputs.unlink(missing_ok=True)
    result = subprocess.run(
        [str(HYBRIDLESS), "deploy", "--stage", stage, "--method", "direct",
         "--outputs-file", str(outputs)],
        cwd=directory, env=env, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in log, log
    return log, json.loads(outputs.read_text())


def test_the_hybrid_example_deploys_every_event_kind(
    ground_env: GroundHandle, tmp_path: Path, unique: str
) -> None:
    directory = tmp_path / "shop"
    shutil.copytree(EXAMPLE, directory)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ground_env.env,
        **prepare_account(ground_env.env, unique),
    }
    stage = f"t{unique}"

    log, first = deploy(directory, env, stage)

    assert first["stack-status"] == "CREATE_COMPLETE"
    assert sorted(first["images"]) == ["Digest-0", "app"]  # four events share the image "app"
    outputs = first["outputs"]
    ecs = boto3.client("ecs")
    services = ecs.describe_services(
        cluster=outputs["ClusterName"],
        services=[outputs["ApiServiceName"], outputs["FulfilServiceName"]],
    )["services"]
    assert [s["status"] for s in services] == ["ACTIVE", "ACTIVE"]
    image = first["images"]["app"]
    definitions = [
        ecs.describe_task_definition(taskDefinition=s["taskDefinition"])["taskDefinition"]
        for s in services
    ]
    assert {d["containerDefinitions"][0]["image"] for d in definitions} == {image}

    functions = boto3.client("lambda")
    status = functions.get_function(FunctionName=outputs["StatusFunctionName"])["Configuration"]
    assert (status["Runtime"], status["Handler"]) == ("python3.12", "shop/status.handler")
    cloudformation = boto3.client("cloudformation")
    template = cloudformation.get_template(StackName=f"shop-{stage}")["TemplateBody"]
    template = template if isinstance(template, dict) else json.loads(template)
    code = template["Resources"]["DigestFunction"]["Properties"]["Code"]
    assert code == {"ImageUri": first["images"]["Digest-0"]}

    stack = cloudformation.describe_stack_resources(StackName=f"shop-{stage}")
    resources = stack["StackResources"]
    kinds = {r["LogicalResourceId"]: r["ResourceType"] for r in resources}
    assert kinds["LedgerSchedule"] == kinds["DigestSchedule"] == "AWS::Events::Rule"
    assert kinds["StatusTargetGroup"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    assert "Status: uploaded s3://" in log and f"shop/{stage}/artifacts/Status-" in log

    log, again = deploy(directory, env, stage)
    assert "(no changes)" in log and "Status: unchanged s3://" in log
    assert again["images"] == first["images"]

    orders = directory / "shop" / "orders.py"
    orders.write_text(orders.read_text() + "\nCURRENCY = 'EUR'\n")
    log, changed = deploy(directory, env, stage)
    assert changed["stack-status"] == "UPDATE_COMPLETE"
    assert changed["images"]["app"] != first["images"]["app"]
    assert "Status: uploaded s3://" in log
