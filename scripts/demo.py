"""`make demo`: deploy examples/hello twice on the proving ground, as a CI job would.

Runs inside `python -m proving_ground run`, so AWS (moto), ECR (registry + bridge) and the
Docker engine are reached through the same variables a user sets for AWS. The steps:

1. the account's existing state: a VPC with two subnets and a security group (the example
   reads their ids from the environment, as CI variables) and the deployment bucket;
2. `hybridless deploy --method direct`: the stack is created, outputs read;
3. a code change in the shared greeting.py, then `hybridless deploy` (change set): the change
   set table, the events, the cleanup of the images nothing uses any more;
4. what ECR holds afterwards, next to what the ECS and Lambda APIs say is running.

The app is copied to a temporary directory first, so the repository is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

from hybridless.stack.package import default_bucket_name

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"
HYBRIDLESS = Path(sys.executable).parent / "hybridless"


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def prepare_account() -> dict[str, str]:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{n}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "us-east-1a"), (2, "us-east-1b"))
    ]
    group = ec2.create_security_group(
        GroupName="hello-demo-tasks", Description="hello tasks", VpcId=vpc
    )["GroupId"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    bucket = default_bucket_name(account, os.environ["AWS_REGION"])
    # The tool would create this bucket itself, with a TLS-only policy; moto evaluates bucket
    # policies without their conditions, so that policy would refuse every upload here.
    boto3.client("s3").create_bucket(Bucket=bucket)
    print(f"VPC {vpc}, subnets {', '.join(subnet_ids)}, security group {group}")
    print(f"deployment bucket {bucket}")
    base = os.environ["HYBRIDLESS_GROUND_BASE_IMAGE"]
    return {
        "VPC_ID": vpc,
        "SUBNET_A": subnet_ids[0],
        "SUBNET_B": subnet_ids[1],
        "SECURITY_GROUP_ID": group,
        # No Docker Hub or public ECR here: the ground's Debian image with Python stands in.
        "PYTHON_IMAGE": base,
        "LAMBDA_PYTHON_IMAGE": base,
    }


def deploy(app: Path, env: dict[str, str], *options: str) -> dict[str, object]:
    outputs = app / "outputs.json"
    command = [str(HYBRIDLESS), "deploy", "--config", str(app / "hybridless.yml"),
               "--outputs-file", str(outputs), *options]  # fmt: skip
    print("$ " + " ".join(["hybridless", *command[1:]]).replace(str(app) + "/", ""), flush=True)
    subprocess.run(command, env=env, check=True, stdin=subprocess.DEVNULL)
    return dict(json.loads(outputs.read_text()))


def show_images(stack: str, repositories: list[str], deployed: dict[str, str]) -> None:
    ecr = boto3.client("ecr")
    ecs = boto3.client("ecs")
    running = set()
    for service in ecs.describe_services(
        cluster=stack, services=ecs.list_services(cluster=stack)["serviceArns"]
    )["services"]:
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
        running.update(c["image"] for c in definition["taskDefinition"]["containerDefinitions"])
    function = boto3.client("lambda").get_function(FunctionName=f"{stack}-Greeter")
    running.add(function["Code"]["ImageUri"])
    running_digests = {uri.split("@")[-1] for uri in running}
    deployed_digests = {uri.split("@")[-1] for uri in deployed.values()}
    for repository in repositories:
        print(f"{repository}:")
        for image in ecr.describe_images(repositoryName=repository)["imageDetails"]:
            digest = image["imageDigest"]
            why = [
                label
                for label, digests in (
                    ("deployed now", deployed_digests),
                    ("running", running_digests),
                )
                if digest in digests
            ]
            tags = ", ".join(image.get("imageTags", [])) or "untagged"
            print(f"  {digest[:19]}…  {tags}  ({' and '.join(why) or 'unused'})")


def main() -> int:
    banner("the account: an existing network and the deployment bucket")
    env = {**os.environ, **prepare_account()}
    with tempfile.TemporaryDirectory(prefix="hybridless-demo-") as scratch:
        app = Path(scratch) / "hello"
        shutil.copytree(EXAMPLE, app)

        banner("first deploy: the stack is created (direct method, so moto computes outputs)")
        first = deploy(app, env, "--method", "direct")

        banner("a code change in greeting.py, shared by the web service and the function")
        greeting = app / "greeting.py"
        greeting.write_text(greeting.read_text().replace("Hello, {audience}!", "Hi, {audience}!"))
        print('TEMPLATE = "Hello, {audience}!"  ->  TEMPLATE = "Hi, {audience}!"')

        banner("second deploy: change set shown, executed, events followed, ECR cleaned")
        second = deploy(app, env)

    banner("ECR after the second deploy, next to what ECS and Lambda report as running")
    stack = str(second["stack-name"])
    images = second["images"]
    assert isinstance(images, dict)
    show_images(stack, ["hello/web-0-dev", "hello/greeter-0-dev"], images)
    print(
        "moto keeps an ECS service on the task definition it was created with, so the ECS API\n"
        "still reports the first web image as running, and cleanup keeps it; on AWS the service\n"
        "moves to the new revision and the next deploy's cleanup removes the old image."
    )
    banner("outputs of the two deploys (what the GitHub Action exposes)")
    print(json.dumps({"first": first, "second": second}, indent=2))
    print(
        "\nmoto does not recompute outputs when it executes a change set: the second deploy's\n"
        "stack outputs are the ones the first deploy computed (this update does not change them)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
