"""The CloudFormation part of a deploy, against `aws cloudformation deploy`, on the same moto
server and the same template.

The part is: put the template in S3, have it validated, create a change set, wait for it,
execute it, wait for the stack, read the outputs. Ours runs it with the functions the deploy's
package, validate and update phases use; the peer is the AWS CLI's `cloudformation deploy
--s3-bucket`, which does the same minus validation and outputs. The template is examples/hello
rendered by the tool (ECS service behind a load balancer, a Lambda function from an image,
roles, log groups, alarms), written once and given to both.

Each run is a fresh process creating a new stack, so neither side gains from a warm cache or a
stack that already exists. Start-up is not what is compared: each process imports its modules
first, then times from there (ours: AWS clients, upload, validation, change set, stack, outputs;
the peer: building the CLI driver and running the command, which creates its clients). The
whole-process times, start-up included, are reported beside it. moto settles a stack within the
call that starts it, so this measures each tool's own work and round trips, not its waiting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, Result, aws_cli_python, compared, interleaved, median, spread

RUNS = 5
EXAMPLE = REPO / "examples" / "hello"
PEER = "AWS CLI 1.46.3 cloudformation deploy"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")


def rendered_template(environ: dict[str, str], stack_name: str) -> str:
    """examples/hello's template as the deploy renders it, placeholders for images and code.
    The names it gives resources itself (log groups, the cluster) follow `stack_name`."""
    from hybridless import pipeline
    from hybridless.config import load_app_with_notices
    from hybridless.model import Overrides
    from hybridless.template import render_stacks, to_json

    app, _ = load_app_with_notices(
        EXAMPLE / "hybridless.yml", Overrides(stack_name=stack_name), environ
    )
    stacks = render_stacks(app, pipeline.placeholder_images(app), pipeline.placeholder_code(app))
    if stacks.children:
        raise RuntimeError("the benchmark template must be one stack, not nested ones")
    return to_json(stacks.root)


def deploy_ours(template: Path, stack_name: str, bucket: str) -> tuple[float, float]:
    """The package, validate and update phases on one template: seconds from the clients on,
    and the part of them ValidateTemplate took."""
    import boto3

    from bench.common import quiet
    from hybridless.stack import package, update
    from hybridless.stack.validate import validate_uploaded

    started = time.perf_counter()
    session = boto3.session.Session()
    s3, cloudformation = session.client("s3"), session.client("cloudformation")
    body = template.read_text()
    package.ensure_bucket(s3, bucket, session.region_name, quiet())
    prefix = package.deployment_prefix("bench", "bench", stack_name)
    packaged = package.upload(s3, bucket, prefix, body, {"stack-name": stack_name})
    validating = time.perf_counter()
    capabilities = validate_uploaded(cloudformation, packaged.template_url)
    validated = time.perf_counter() - validating
    request = update.Request(
        stack_name=stack_name,
        template_url=packaged.template_url,
        capabilities=capabilities,
        tags={},
        method="changeset",
        deployment_id=stack_name,
        template_body=body,
    )
    result = update.deploy_stack(cloudformation, request, quiet())
    package.mark_succeeded(s3, bucket, prefix, result.status)
    elapsed = time.perf_counter() - started
    if result.status != "CREATE_COMPLETE":
        raise RuntimeError(f"ours: {stack_name} ended {result.status}")
    return elapsed, validated


def timed_process(command: list[str]) -> tuple[list[float], float]:
    """The figures the process printed on its last line (seconds it timed itself first), and
    its whole wall time."""
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]}: {(process.stdout + process.stderr)[-3000:]}")
    return [float(n) for n in process.stdout.strip().splitlines()[-1].split()], wall


def created(cloudformation: Any, stack_name: str) -> None:
    """A run counts only when its stack really is there and complete, with its resources.
    (moto leaves the outputs of a stack made through a change set empty, for both tools.)"""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName=stack_name)
    if stack["StackStatus"] != "CREATE_COMPLETE" or not resources["StackResourceSummaries"]:
        raise RuntimeError(f"{stack_name} is {stack['StackStatus']}, or has no resources")


def stack_deploy_vs_awscli() -> list[Result]:
    import boto3

    from hybridless.stack.package import default_bucket_name
    from tests.support import prepare_account

    unique = uuid.uuid4().hex[:8]
    environ = {**os.environ, **prepare_account(dict(os.environ), f"bench-{unique}")}
    bucket = default_bucket_name("123456789012", os.environ["AWS_REGION"])
    cloudformation = boto3.client("cloudformation")
    walls: dict[str, list[float]] = {"ours": [], "peer": []}
    validating: dict[str, list[float]] = {"ours": [], "peer": []}
    numbers = iter(range(1000))

    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.json"
        template.write_text(rendered_template(environ, f"bench-{unique}"))
        resources = len(json.loads(template.read_text())["Resources"])

        def measure(tool: str, command: Callable[[str], list[str]]) -> Callable[[], float]:
            def run() -> float:
                stack_name = f"bench-{tool}-{unique}-{next(numbers)}"
                try:
                    figures, wall = timed_process(command(stack_name))
                    created(cloudformation, stack_name)
                finally:  # the template names some resources itself: one stack at a time
                    cloudformation.delete_stack(StackName=stack_name)
                    cloudformation.get_waiter("stack_delete_complete").wait(
                        StackName=stack_name, WaiterConfig={"Delay": 1}
                    )
                walls[tool].append(wall)
                validating[tool].append(figures[1] if len(figures) > 1 else 0.0)
                return figures[0]

            return run

        def ours(stack_name: str) -> list[str]:
            return [sys.executable, "-m", "bench.cloudformation_deploy",
                    str(template), stack_name, bucket]  # fmt: skip

        def peer(stack_name: str) -> list[str]:
            return [str(aws_cli_python()), str(REPO / "bench" / "awscli_deploy.py"),
                    "--template-file", str(template), "--stack-name", stack_name,
                    "--s3-bucket", bucket, "--s3-prefix", stack_name,
                    "--capabilities", *CAPABILITIES,
                    "--no-fail-on-empty-changeset"]  # fmt: skip

        times = interleaved(RUNS, {"ours": measure("ours", ours), "peer": measure("peer", peer)})

    return [
        compared(
            "stack-deploy-vs-awscli",
            "s",
            median(times["ours"]),
            median(times["peer"]),
            PEER,
            f"examples/hello's template ({resources} resources), a new stack each run; ours: "
            "bucket check + upload + ValidateTemplate + change set + execute + wait + outputs + "
            "success record; peer: upload (a new prefix each run) + "
            f"change set + execute + wait; runs: ours {spread(times['ours'])}, peer "
            f"{spread(times['peer'])}; whole processes, start-up included: ours "
            f"{median(walls['ours']):.2f} s, peer {median(walls['peer']):.2f} s",
        ),
        compared(
            "stack-deploy-vs-awscli-without-validate",
            "s",
            median([t - v for t, v in zip(times["ours"], validating["ours"], strict=True)]),
            median(times["peer"]),
            PEER,
            "the same runs, ours less its ValidateTemplate call, which the peer does not make: "
            "moto lints the template with cfn-lint on each call, median "
            f"{median(validating['ours']):.2f} s (CloudFormation itself answers it in one "
            "round trip)",
        ),
    ]


if __name__ == "__main__":
    print("{:.6f} {:.6f}".format(*deploy_ours(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
