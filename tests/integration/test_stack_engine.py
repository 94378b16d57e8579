"""The stack engine against what moto cannot show: the CloudFormation double playing the
scenarios in tests/scenarios (each named after what it shows), through the standard endpoint
variable, exactly as the tool talks to AWS."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from hybridless.errors import Cancelled, PhaseError
from hybridless.report import Reporter
from hybridless.stack import update
from hybridless.stack.events import Poller
from proving_ground.cloudformation_double import CloudFormationDouble
from tests.integration.hello import App

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
STACK = "app"


Play = Callable[..., CloudFormationDouble]


@pytest.fixture
def play() -> Iterator[Play]:
    """Starts the double on a scenario (by file name); stops every one started at the end."""
    started: list[CloudFormationDouble] = []

    def start(name: str, stack_name: str = STACK) -> CloudFormationDouble:
        double = CloudFormationDouble(SCENARIOS / f"{name}.yml", stack_name)
        started.append(double)
        return double

    yield start
    for double in started:
        double.close()


def client(double: CloudFormationDouble) -> Any:
    return boto3.client(
        "cloudformation",
        endpoint_url=double.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def request(**changes: Any) -> update.Request:
    values: dict[str, Any] = {
        "stack_name": STACK,
        "template_url": "https://bucket.s3.amazonaws.com/app/template.json",
        "capabilities": ["CAPABILITY_IAM"],
        "tags": {"hybridless:service": "app"},
        "method": "changeset",
        "deployment_id": "20261122T101500.123Z-1a2b3c4",
    }
    values.update(changes)
    return update.Request(**values)


def fast() -> Poller:
    return Poller(fastest=0.05, slowest=0.2)


def run(double: CloudFormationDouble, **changes: Any) -> tuple[Any, str]:
    """deploy_stack against the double; (result or the error raised, the log)."""
    stream = io.StringIO()
    try:
        outcome: Any = update.deploy_stack(
            client(double), request(**changes), Reporter(stream, ci="github"), fast()
        )
    except (PhaseError, Cancelled) as err:
        outcome = err
    return outcome, stream.getvalue()


def resource_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(r"\] \S+ AWS::\S+ [A-Z_]+", line)]


def test_a_failed_first_create_is_deleted_and_created_again_by_the_next_deploy(
    play: Play,
) -> None:
    double = play("create-fails-then-next-deploy-recreates")

    first, _ = run(double)
    second, second_log = run(double, deployment_id="20261122T101600.000Z-1a2b3c4")

    assert isinstance(first, PhaseError)
    assert str(first).endswith(
        "ended ROLLBACK_COMPLETE; the root cause: WebService (AWS::ECS::Service): Invalid "
        "request provided: CreateService error: subnet-0abc does not exist"
    )
    assert "it never ran, so it is deleted and created again" in second_log
    actions = double.double.actions()
    assert actions.index("DeleteStack") < len(actions) - actions[::-1].index("CreateChangeSet")
    assert second.status == "CREATE_COMPLETE"
    assert second.outputs == {
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/app-queue"
    }


def test_a_failed_update_names_the_root_cause_not_the_cancellation(
    play: Play,
) -> None:
    double = play("update-fails-and-rolls-back")

    error, log = run(double)

    assert isinstance(error, PhaseError)
    assert (
        "ended UPDATE_ROLLBACK_COMPLETE; the root cause: WebService (AWS::ECS::Service): "
        in str(error)
    )
    assert "Circuit Breaker was triggered" in str(error)
    annotations = [line for line in log.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1
    assert annotations[0].startswith("::error title=WebService (AWS%3A%3AECS%3A%3AService)")
    # Every change-set page was read (the double serves three changes a page).
    assert "change set hybridless-20261122T101500-123Z-1a2b3c4: 3 change(s)" in log


def test_update_rollback_failed_stops_and_names_what_failed_to_roll_back(
    play: Play,
) -> None:
    double = play("update-rollback-failed")

    error, _ = run(double)

    assert isinstance(error, PhaseError)
    message = str(error)
    assert "Database (AWS::RDS::DBInstance): Cannot roll back: the instance was modified" in message
    assert "WebService" not in message  # it failed in the update, not in the rollback
    assert "--continue-update-rollback" in message
    assert f"continue-update-rollback --stack-name {STACK} --resources-to-skip Database" in message
    assert "ContinueUpdateRollback" not in double.double.actions()


def test_asked_to_the_rollback_is_continued_skipping_only_what_was_named_then_updated(
    play: Play,
) -> None:
    double = play("update-rollback-failed")

    result, log = run(double, continue_update_rollback=True, resources_to_skip=("Database",))

    assert result.status == "UPDATE_COMPLETE", log
    calls = [c for c in double.double.calls if c["action"] == "ContinueUpdateRollback"]
    assert len(calls) == 1
    assert calls[0]["params"]["ResourcesToSkip.member.1"] == "Database"
    assert "ResourcesToSkip.member.2" not in calls[0]["params"]
    assert "Resource skipped during UpdateRollback" in log


def test_skipping_a_resource_that_did_not_fail_is_refused_before_any_change(
    play: Play,
) -> None:
    double = play("update-rollback-failed")

    error, _ = run(double, continue_update_rollback=True, resources_to_skip=("Web",))

    assert isinstance(error, PhaseError)
    assert "names Web, which did not fail to roll back; those that did: Database" in str(error)
    assert "ContinueUpdateRollback" not in double.double.actions()


def test_a_busy_stack_is_waited_for_then_updated(play: Play) -> None:
    double = play("busy-stack-settles-then-updates")

    result, log = run(double)

    assert result.status == "UPDATE_COMPLETE"
    assert f"stack {STACK} is UPDATE_IN_PROGRESS: another operation is changing it" in log
    assert "Worker AWS::ECS::Service UPDATE_COMPLETE" in log
    assert f"stack {STACK} settled: UPDATE_COMPLETE" in log
    created = next(c for c in double.double.calls if c["action"] == "CreateChangeSet")
    assert created["at"] - double.double.started >= 1.2


def test_a_nested_stack_s_events_are_streamed_and_its_failure_is_the_root_cause(
    play: Play,
) -> None:
    double = play("nested-stack-fails")

    error, log = run(double)

    assert isinstance(error, PhaseError)
    assert (
        "the root cause: Database/Table (AWS::DynamoDB::Table): Property AttributeDefinitions"
        in (str(error))
    )
    lines = resource_lines(log)
    assert any("Database/Table AWS::DynamoDB::Table UPDATE_IN_PROGRESS" in line for line in lines)
    assert any("Database/Table AWS::DynamoDB::Table UPDATE_FAILED" in line for line in lines)
    # The nested stack's own status events are not repeated: its parent reports them.
    assert not any("Database/app-Database" in line for line in lines)


def test_a_slow_stack_s_events_are_each_printed_once_in_order(
    play: Play,
) -> None:
    double = play("slow-stack-of-40-resources")

    result, log = run(double)

    assert result.status == "CREATE_COMPLETE"
    lines = [line.split("] ", 1)[1] for line in resource_lines(log) if "Queue" in line]
    expected = sorted(
        [(i * 0.05, f"Queue{i:02d} AWS::SQS::Queue CREATE_IN_PROGRESS") for i in range(40)]
        + [(i * 0.05 + 0.5, f"Queue{i:02d} AWS::SQS::Queue CREATE_COMPLETE") for i in range(40)]
    )
    assert lines == [text for _, text in expected]


def test_throttling_slows_the_deploy_down_and_loses_no_event(play: Play) -> None:
    double = play("throttled-while-following")
    no_retries = boto3.client(
        "cloudformation",
        endpoint_url=double.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )
    stream = io.StringIO()

    result = update.deploy_stack(no_retries, request(), Reporter(stream, ci="terminal"), fast())

    assert result.status == "UPDATE_COMPLETE"
    lines = [line.split("] ", 1)[1] for line in resource_lines(stream.getvalue())]
    assert [line for line in lines if not line.startswith(STACK)] == [
        "WebService AWS::ECS::Service UPDATE_IN_PROGRESS",
        "GreeterFunction AWS::Lambda::Function UPDATE_IN_PROGRESS",
        "GreeterFunction AWS::Lambda::Function UPDATE_COMPLETE",
        "WebService AWS::ECS::Service UPDATE_COMPLETE",
    ]
    events = [c for c in double.double.calls if c["action"] == "DescribeStackEvents"]
    assert len(events) > 6  # the throttled calls were made, and polling went on after them


def test_aws_s_empty_change_set_is_success_and_nothing_is_executed(
    play: Play,
) -> None:
    double = play("empty-change-set-aws-form")

    result, log = run(double)

    assert result.changed is False
    assert result.status == "UPDATE_COMPLETE"
    assert result.outputs == {"ServiceEndpoint": "http://unchanged"}
    assert "no changes" in log
    actions = double.double.actions()
    assert "DeleteChangeSet" in actions and "ExecuteChangeSet" not in actions


def test_termination_protection_follows_the_config_even_without_template_changes(
    play: Play,
) -> None:
    double = play("empty-change-set-aws-form")

    result, log = run(double, termination_protection=True)
    again, _ = run(double, termination_protection=True)

    assert result.changed is False and again.changed is False
    calls = [c for c in double.double.calls if c["action"] == "UpdateTerminationProtection"]
    assert [c["params"]["EnableTerminationProtection"] for c in calls] == ["true"]
    assert "termination protection enabled" in log


def test_an_interrupted_create_deletes_the_stack_and_reports_it(
    play: Play,
) -> None:
    double = play("cancel-mid-create")
    # As the command does: a test run started in the background inherits SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        error, log = run(double)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)

    assert isinstance(error, Cancelled), log
    assert error.exit_code == 3
    assert str(error).startswith(f"deploy cancelled: stack {STACK} is DELETE_COMPLETE")
    assert "DeleteStack" in double.double.actions()


def test_a_timeout_cancels_the_update_it_ran_out_on(play: Play) -> None:
    double = play("cancel-mid-update")

    error, _ = run(double, timeout_minutes=0.02)

    assert isinstance(error, PhaseError)
    assert f"stack {STACK} was still UPDATE_IN_PROGRESS after 0.02 minute(s)" in str(error)
    assert "the update was cancelled" in str(error)
    assert double.double.actions().count("CancelUpdateStack") == 1


# --- through the command, as CI runs it --------------------------------------------------------


def cli_env(app: App, double: CloudFormationDouble, tmp_path: Path) -> dict[str, str]:
    summary = tmp_path / "summary.md"
    summary.touch()
    return {
        **app.env,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": double.url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
    }


def test_a_failed_deploy_ends_its_log_and_its_annotation_with_the_root_cause(
    app: App, play: Play, tmp_path: Path
) -> None:
    double = play("update-fails-and-rolls-back", app.stack_name)
    app.env = cli_env(app, double, tmp_path)

    result = app.deploy()

    assert result.returncode == 1, result.log
    last = [line for line in result.log.splitlines() if line.strip()][-2:]
    assert "the root cause: WebService (AWS::ECS::Service)" in last[0]
    assert "Circuit Breaker was triggered" in last[0]
    assert last[1].startswith("::error title=update failed::")
    assert "the root cause: WebService" in last[1]
    summary = (tmp_path / "summary.md").read_text()
    assert "❌ hybridless: deploy failed" in summary and "the root cause: WebService" in summary


def ignore_sigint() -> None:
    """What a non-interactive shell does to a command it starts in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("sent", "started_with"),
    [
        pytest.param(signal.SIGTERM, None, id="sigterm"),
        pytest.param(signal.SIGINT, ignore_sigint, id="sigint-to-a-command-started-ignoring-it"),
    ],
)
def test_a_signal_during_an_update_cancels_it_within_five_seconds_and_exits_3(
    app: App,
    play: Play,
    tmp_path: Path,
    sent: signal.Signals,
    started_with: Callable[[], None] | None,
) -> None:
    double = play("cancel-mid-update", app.stack_name)
    env = cli_env(app, double, tmp_path)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "hybridless"), "deploy",
         "--config", str(app.directory / "hybridless.yml"), "--stage", app.stage],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, preexec_fn=started_with,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    signalled = 0.0
    deadline = time.monotonic() + 300
    for line in process.stdout:
        lines.append(line)
        if not signalled and "WebService AWS::ECS::Service UPDATE_IN_PROGRESS" in line:
            process.send_signal(sent)
            signalled = time.monotonic()
        assert time.monotonic() < deadline, "".join(lines)
    code = process.wait(timeout=60)
    log = "".join(lines)

    assert signalled, log
    assert code == 3, log
    cancel = next(c for c in double.double.calls if c["action"] == "CancelUpdateStack")
    assert cancel["at"] - signalled < 5.0
    assert f"deploy cancelled: stack {app.stack_name} is UPDATE_ROLLBACK_COMPLETE" in log
    assert "Traceback" not in log


def test_the_double_answers_the_template_summary_the_aws_cli_asks_for_first() -> None:
    """`aws cloudformation deploy` calls GetTemplateSummary before its change set: the double
    answers it as ValidateTemplate, with the capabilities the scenario says the template needs."""
    double = CloudFormationDouble({"capabilities": ["CAPABILITY_NAMED_IAM"]})
    try:
        summary = client(double).get_template_summary(TemplateBody="{}")
    finally:
        double.close()

    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert summary["Parameters"] == []
    assert double.double.actions() == ["GetTemplateSummary"]


def run_together(
    double: CloudFormationDouble, *requests: dict[str, Any], stagger: float = 0.0
) -> list[tuple[Any, str]]:
    """deploy_stack for each request in threads, started together, or each `stagger` seconds
    after the one before."""
    start = threading.Barrier(len(requests))
    outcomes: list[tuple[Any, str]] = [(None, "")] * len(requests)

    def one(index: int, changes: dict[str, Any]) -> None:
        start.wait()
        time.sleep(index * stagger)
        outcomes[index] = run(double, **changes)

    threads = [
        threading.Thread(target=one, args=(i, changes), daemon=True)
        for i, changes in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def stack_statuses(double: CloudFormationDouble) -> list[str]:
    """The statuses of the stack's own events, oldest first: one update after another shows
    as IN_PROGRESS, COMPLETE, IN_PROGRESS, COMPLETE."""
    root = next(s for s in double.double.stacks.values() if s.name == STACK)
    return [e["ResourceStatus"] for e in root.events if e["LogicalResourceId"] == STACK]


@pytest.mark.parametrize(
    ("method", "refusal"),
    [("changeset", "ChangeSetNotFound"), ("direct", "state and can not be updated")],
)
def test_two_deploys_at_once_run_one_after_the_other_and_both_apply(
    play: Play, method: str, refusal: str
) -> None:
    double = play("two-deploys-of-one-stack-at-once")
    first, second = "20261122T101500.123Z-aaaaaaa", "20261122T101500.456Z-bbbbbbb"

    outcomes = run_together(
        double,
        {"deployment_id": first, "tags": {"deploy": "first"}, "method": method},
        {"deployment_id": second, "tags": {"deploy": "second"}, "method": method},
    )

    (one, one_log), (two, two_log) = outcomes
    assert isinstance(one, update.StackResult), one_log
    assert isinstance(two, update.StackResult), two_log
    assert one.status == two.status == "UPDATE_COMPLETE"
    overtaken = [log for log in (one_log, two_log) if "another deploy changed it first" in log]
    assert len(overtaken) == 1, (one_log, two_log)
    assert refusal in overtaken[0]
    assert "waiting for it to finish, then making this deploy's change on top" in overtaken[0]
    assert double.double.executions == 2
    assert stack_statuses(double) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"] * 2
    stack = client(double).describe_stacks(StackName=STACK)["Stacks"][0]
    last = "first" if "another deploy changed it first" in one_log else "second"
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"deploy": last}


def test_a_deploy_waiting_for_another_fails_clearly_when_its_time_runs_out(play: Play) -> None:
    double = play("two-deploys-of-one-stack-at-once")

    outcomes = run_together(
        double,
        {"deployment_id": "20261122T101500.123Z-aaaaaaa"},
        {"deployment_id": "20261122T101500.456Z-bbbbbbb", "timeout_minutes": 0.005},
        stagger=0.8,
    )

    (one, one_log), (two, two_log) = outcomes
    assert isinstance(one, update.StackResult) and one.status == "UPDATE_COMPLETE", one_log
    assert isinstance(two, PhaseError), two_log
    assert "nothing was changed by this deploy" in str(two)
    assert "time limit ran out" in str(two)
    assert double.double.executions == 1
    assert not any(c["action"] == "CancelUpdateStack" for c in double.double.calls)


def test_two_first_deploys_at_once_create_the_stack_once_then_update_it(play: Play) -> None:
    double = play("two-first-deploys-at-once")

    outcomes = run_together(
        double,
        {"deployment_id": "20261122T101500.123Z-aaaaaaa"},
        {"deployment_id": "20261122T101500.456Z-bbbbbbb"},
    )

    results = [outcome for outcome, _ in outcomes]
    logs = "\n".join(log for _, log in outcomes)
    assert all(isinstance(r, update.StackResult) for r in results), logs
    assert sorted(r.status for r in results) == ["CREATE_COMPLETE", "UPDATE_COMPLETE"], logs
    waited = (
        "REVIEW_IN_PROGRESS with another deploy's change set: waiting",
        "another operation is changing it; waiting",
    )
    assert any(line in logs for line in waited), logs
    assert not any(c["action"] == "DeleteStack" for c in double.double.calls), logs
    assert stack_statuses(double) == [
        "REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE",
    ]  # fmt: skip
