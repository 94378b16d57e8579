"""How late each tool notices that the stack has settled, on the CloudFormation double.

A deploy's wall time is mostly CloudFormation's; what a tool adds is the wait between the
stack reaching its final state and the tool saying so (and the job moving on). That lag is
set by how the tool polls, so it is measured where the moment the stack settles is known to
the millisecond: the double (proving_ground/cloudformation_double.py) plays a scripted update
whose final stack event is due a set number of seconds after ExecuteChangeSet. The AWS CLI's
`cloudformation deploy` waits with botocore's waiter, polling DescribeStacks every 30 s; the
lag it shows depends on where the end falls between two polls, so the scripted durations are
spread evenly over one 30 s period rather than picked.

Both tools run at the same time, each against its own double with the same scenario, so a
round costs one peer wait. The calls each makes while it waits (from ExecuteChangeSet to its
report) are counted too: polling faster costs API calls, and the figure says how many.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Result, aws_cli_python, compared, median, quiet, spread

STACK = "bench-app"
RESOURCES = 24
DURATIONS = (3.0, 8.5, 14.0, 19.5, 25.0)  # seconds: one every 5.5 s over a 30 s waiter period
PEER = "AWS CLI 1.46.3 deploy (waiter)"
PEER_DONE = "Successfully created/updated stack"
TEMPLATE = '{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}'


def scenario(duration: float, resources: int = RESOURCES) -> dict[str, Any]:
    """An update of `resources` queues, each taking a tenth of `duration`, started in turn over
    the first 80% of it; cleanup, then UPDATE_COMPLETE exactly at `duration`."""
    names = [f"Queue{i:02d}" for i in range(resources)]
    timeline: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        start = 0.8 * duration * i / resources
        for at, status in (
            (start, "UPDATE_IN_PROGRESS"),
            (start + duration / 10, "UPDATE_COMPLETE"),
        ):
            timeline.append({"at": round(at, 3), "resource": name, "type": "AWS::SQS::Queue",
                             "status": status})  # fmt: skip
    timeline.sort(key=lambda event: float(event["at"]))
    timeline.append(
        {"at": round(0.95 * duration, 3), "status": "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"}
    )
    timeline.append({"at": duration, "status": "UPDATE_COMPLETE"})
    return {
        "stack": {"status": "UPDATE_COMPLETE", "outputs": {"Endpoint": "http://old"}},
        "changes": [["Modify", name, "AWS::SQS::Queue", "False"] for name in names],
        "execute": [timeline],
        "outputs": {"Endpoint": "http://new"},
    }


def settled_at(calls: list[dict[str, Any]], duration: float) -> float:
    """When the stack reached its final state: the scripted duration after the execution."""
    executed = [call["at"] for call in calls if call["action"] == "ExecuteChangeSet"]
    if len(executed) != 1:
        raise RuntimeError(f"expected one ExecuteChangeSet, the double saw {len(executed)}")
    return float(executed[0]) + duration


def waiting_calls(calls: list[dict[str, Any]], since: float, until: float) -> Counter[str]:
    """The calls made from the execution to the report: what waiting cost."""
    return Counter(call["action"] for call in calls if since <= call["at"] <= until)


@dataclass
class Run:
    latency: float  # seconds from the stack settling to the tool saying so
    per_minute: float  # API calls per minute while waiting
    calls: Counter[str]


def measured(calls: list[dict[str, Any]], duration: float, reported: float) -> Run:
    settled = settled_at(calls, duration)
    since = settled - duration
    counted = waiting_calls(calls, since, reported)
    return Run(reported - settled, sum(counted.values()) / ((reported - since) / 60), counted)


def run_ours(url: str) -> float:
    """`deploy_stack` as the deploy's update phase calls it; returns when it returned."""
    import boto3

    from hybridless.stack import update

    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    request = update.Request(
        stack_name=STACK,
        template_url="https://bench.s3.amazonaws.com/template.json",
        capabilities=[],
        tags={},
        method="changeset",
        deployment_id="bench",
    )
    result = update.deploy_stack(cloudformation, request, quiet())
    reported = time.monotonic()
    if result.status != "UPDATE_COMPLETE":
        raise RuntimeError(f"ours ended {result.status}")
    return reported


def run_peer(url: str, template: Path) -> float:
    """`aws cloudformation deploy`; returns when its success line appeared."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "HYBRIDLESS_"))
    }
    env.update(
        AWS_ENDPOINT_URL_CLOUDFORMATION=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    command = [str(aws_cli_python()), "-m", "awscli", "cloudformation", "deploy",
               "--template-file", str(template), "--stack-name", STACK,
               "--no-fail-on-empty-changeset"]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    reported = None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if PEER_DONE in line and reported is None:
            reported = time.monotonic()
    if process.wait(timeout=300) != 0 or reported is None:
        raise RuntimeError(f"the AWS CLI failed: {''.join(lines)[-2000:]}")
    return reported


def one_round(duration: float, template: Path) -> dict[str, Run]:
    """Both tools at once, each against its own double playing the same update."""
    from proving_ground.cloudformation_double import CloudFormationDouble

    tools: dict[str, Callable[[str], float]] = {
        "ours": run_ours,
        "peer": lambda url: run_peer(url, template),
    }
    doubles = {tool: CloudFormationDouble(scenario(duration), STACK) for tool in tools}
    reported: dict[str, float] = {}
    failures: list[BaseException] = []

    def run(tool: str) -> None:
        try:
            reported[tool] = tools[tool](doubles[tool].url)
        except BaseException as err:  # re-raised below, in the calling thread
            failures.append(err)

    threads = [threading.Thread(target=run, args=(tool,)) for tool in tools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for double in doubles.values():
        double.close()
    if failures:
        raise failures[0]
    return {tool: measured(doubles[tool].double.calls, duration, reported[tool]) for tool in tools}


def completion_latency() -> list[Result]:
    runs: dict[str, list[Run]] = {"ours": [], "peer": []}
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.json"
        template.write_text(TEMPLATE)
        for duration in DURATIONS:
            for tool, run in one_round(duration, template).items():
                runs[tool].append(run)
    latency = {tool: [r.latency for r in listed] for tool, listed in runs.items()}
    per_minute = {tool: [r.per_minute for r in listed] for tool, listed in runs.items()}

    def calls(tool: str) -> str:
        total: Counter[str] = sum((r.calls for r in runs[tool]), start=Counter())
        return ", ".join(f"{action} {n}" for action, n in total.most_common())

    scripted = ", ".join(f"{d:g}" for d in DURATIONS)
    return [
        compared(
            "completion-latency-vs-awscli",
            "s",
            median(latency["ours"]),
            median(latency["peer"]),
            PEER,
            f"an update of {RESOURCES} resources settling {scripted} s after ExecuteChangeSet "
            "(one run each, the tools side by side); latency from the final event's due time to "
            "the tool's report (ours: deploy_stack returning; peer: its success line); runs: "
            f"ours {spread(latency['ours'])}, peer {spread(latency['peer'])}",
        ),
        compared(
            "completion-api-calls-per-minute",
            "calls/min",
            round(statistics.median(per_minute["ours"]), 1),
            round(statistics.median(per_minute["peer"]), 1),
            PEER,
            "calls from ExecuteChangeSet to the report, per minute; all runs: ours "
            f"{calls('ours')}; peer {calls('peer')}",
        ),
    ]
