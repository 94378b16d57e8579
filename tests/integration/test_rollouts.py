"""Deployment strategies while they run: the CloudFormation double plays a scenario from
tests/scenarios together with the ECS and CodeDeploy rollouts it starts, and the tool follows
them through the standard endpoint variables, exactly as it would AWS."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from hybridless.errors import PhaseError
from hybridless.report import Reporter
from hybridless.stack import update
from hybridless.stack.rollout import Sources, codedeploy_groups
from proving_ground.cloudformation_double import CloudFormationDouble, load_scenario
from tests.integration.hello import App
from tests.integration.test_stack_engine import SCENARIOS, STACK, cli_env, fast, request

ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-5xx"
# The template the CodeDeploy scenarios stand for: the alias names its group through a Ref.
GREETER = {
    "Resources": {
        "GreeterAlias": {
            "Type": "AWS::Lambda::Alias",
            "UpdatePolicy": {
                "CodeDeployLambdaAliasUpdate": {
                    "ApplicationName": "app-deployments",
                    "DeploymentGroupName": {"Ref": "GreeterDeploymentGroup"},
                }
            },
        },
        "GreeterDeploymentGroup": {
            "Type": "AWS::CodeDeploy::DeploymentGroup",
            "Properties": {"DeploymentGroupName": "app-Greeter"},
        },
    }
}

Play = Callable[..., CloudFormationDouble]


@pytest.fixture
def play() -> Iterator[Play]:
    """Starts the double on a scenario (a file name, or the scenario itself); stops every one
    started at the end."""
    started: list[CloudFormationDouble] = []

    def start(scenario: str | dict[str, Any], stack_name: str = STACK) -> CloudFormationDouble:
        source = SCENARIOS / f"{scenario}.yml" if isinstance(scenario, str) else scenario
        double = CloudFormationDouble(source, stack_name)
        started.append(double)
        return double

    yield start
    for double in started:
        double.close()


def aws_client(service: str, url: str, attempts: int | None = None) -> Any:
    config = Config(retries={"total_max_attempts": attempts}) if attempts else None
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def sources(double: CloudFormationDouble, **changes: Any) -> Sources:
    values: dict[str, Any] = {
        "ecs": aws_client("ecs", double.url),
        "codedeploy": aws_client("codedeploy", double.url),
        "groups": codedeploy_groups([GREETER]),
        "interval": 0.05,
    }
    values.update(changes)
    return Sources(**values)


def run(
    double: CloudFormationDouble, rollouts: Sources | None = None, **changes: Any
) -> tuple[Any, str]:
    """deploy_stack against the double, following rollouts; (result or error, the log)."""
    stream = io.StringIO()
    try:
        outcome: Any = update.deploy_stack(
            aws_client("cloudformation", double.url),
            request(**changes),
            Reporter(stream, ci="github"),
            fast(),
            rollouts or sources(double),
        )
    except PhaseError as err:
        outcome = err
    return outcome, stream.getvalue()


def progress(log: str, name: str) -> list[str]:
    """The progress lines of one resource, without their timestamps."""
    return [m.group(1) for m in re.finditer(rf"^\[[ \d.]+s\] ({name}: .*)$", log, re.M)]


def calls(double: CloudFormationDouble, action: str) -> list[dict[str, Any]]:
    return [c for c in double.double.calls if c["action"] == action]


def test_a_rolling_update_s_progress_is_printed_once_per_change_in_order(play: Play) -> None:
    double = play("ecs-rolling-rollout-completes")

    result, log = run(double)

    assert result.status == "UPDATE_COMPLETE", log
    rollout = "WebService: ROLLING rollout"
    assert progress(log, "WebService") == [
        f"{rollout} IN_PROGRESS, 0 of 2 running, 0 pending, 0 failed",
        f"{rollout} IN_PROGRESS, 0 of 2 running, 1 pending, 0 failed",
        f"{rollout} IN_PROGRESS, 1 of 2 running, 0 pending, 0 failed",
        f"{rollout} IN_PROGRESS, 1 of 2 running, 1 pending, 0 failed",
        f"{rollout} IN_PROGRESS, 2 of 2 running, 0 pending, 0 failed",
        f"{rollout} COMPLETED, 2 of 2 running, 0 pending, 0 failed",
    ]
    # Plain log lines: progress is no annotation, and nothing went wrong.
    assert not [line for line in log.splitlines() if line.startswith("::error")]
    assert "warning" not in log


def test_lookups_of_one_resource_are_spaced_by_the_interval(play: Play) -> None:
    double = play("ecs-rolling-rollout-completes")

    result, _ = run(double, sources(double, interval=0.5))

    assert result.status == "UPDATE_COMPLETE"
    times = [c["at"] for c in calls(double, "ecs:DescribeServices")]
    # The service is in progress for 2.75 s: a look every 0.5 s, and a last one as it settles.
    assert 4 <= len(times) <= 8
    gaps = [later - earlier for earlier, later in pairwise(times[:-1])]
    assert all(gap >= 0.5 for gap in gaps), gaps


def test_a_tripped_circuit_breaker_fails_the_deploy_with_ecs_s_reason_and_the_tasks(
    play: Play,
) -> None:
    double = play("ecs-rollout-fails-circuit-breaker")

    error, log = run(double)

    assert isinstance(error, PhaseError), log
    assert str(error).endswith(
        "the root cause: WebService (AWS::ECS::Service): Error occurred during operation 'ECS "
        "Deployment Circuit Breaker was triggered'. ECS deployment ecs-svc/8821736401926338877 "
        "FAILED: ECS deployment circuit breaker: tasks failed to start. Stopped tasks: "
        "Essential container in task exited (web: exit code 1); Essential container in task "
        "exited (web: exit code 137, OutOfMemoryError: Container killed due to memory usage)."
    )
    # ECS no longer lists the failed deployment: the reason is what the watcher saw before.
    service = double.double.rollouts.services["WebService"]
    assert "ecs-svc/8821736401926338877" not in service.deployments
    rollout = "WebService: rollout"
    back = (
        " (ECS deployment circuit breaker: rolling back to deploymentId "
        "ecs-svc/4915824760519471301)"
    )
    assert progress(log, "WebService") == [
        f"{rollout} IN_PROGRESS, 0 of 2 running, 2 pending, 0 failed",
        f"{rollout} IN_PROGRESS, 0 of 2 running, 2 pending, 1 failed",
        f"{rollout} IN_PROGRESS, 0 of 2 running, 2 pending, 2 failed",
        f"{rollout} IN_PROGRESS, 0 of 2 running, 0 pending, 3 failed",
        f"{rollout} IN_PROGRESS, 0 of 2 running, 2 pending, 0 failed{back}",
        f"{rollout} IN_PROGRESS, 1 of 2 running, 1 pending, 0 failed{back}",
        f"{rollout} IN_PROGRESS, 2 of 2 running, 0 pending, 0 failed{back}",
        f"{rollout} COMPLETED, 2 of 2 running, 0 pending, 0 failed",
    ]
    annotations = [line for line in log.splitlines() if line.startswith("::error")]
    assert any(
        a.startswith("::error title=WebService (AWS%3A%3AECS%3A%3AService) rollout::")
        and "tasks failed to start" in a
        for a in annotations
    ), annotations


def test_a_canary_s_traffic_shares_are_printed_as_they_move(play: Play) -> None:
    double = play("codedeploy-canary-shifts-and-succeeds")

    result, log = run(double)

    assert result.status == "UPDATE_COMPLETE", log
    deployment = "GreeterAlias: CodeDeploy d-7QX2B1K9C"
    expected = [
        f"{deployment} Created, 0% of traffic on version 7",
        f"{deployment} InProgress, 0% of traffic on version 7, BeforeAllowTraffic InProgress",
        f"{deployment} InProgress, 10% of traffic on version 7, AllowTraffic InProgress",
        f"{deployment} InProgress, 100% of traffic on version 7, AfterAllowTraffic InProgress",
        f"{deployment} Succeeded, 100% of traffic on version 7, AfterAllowTraffic Succeeded",
    ]
    printed = progress(log, "GreeterAlias")
    # The deployment and its lifecycle events are two reads (GetDeployment, then the targets):
    # a step landing between them shows once as a mix of the two, as it would on CodeDeploy.
    # Every step is still shown, in order, each line once, and a mix only while in progress.
    remaining = iter(printed)
    assert all(line in remaining for line in expected), log
    assert all(a != b for a, b in pairwise(printed)), log
    mixes = [line for line in printed if line not in expected]
    assert len(mixes) <= 2 and all(" InProgress, " in line for line in mixes), log
    listed = calls(double, "codedeploy:ListDeployments")
    assert listed and all(
        c["params"]["deploymentGroupName"] == "app-Greeter" and c["params"]["createTimeRange"]
        for c in listed
    )
    assert len(calls(double, "codedeploy:ListDeploymentTargets")) == 1


def test_a_deployment_an_alarm_stopped_fails_the_deploy_naming_codedeploy_s_reason(
    play: Play,
) -> None:
    double = play("codedeploy-stopped-by-alarm")

    error, log = run(double)

    assert isinstance(error, PhaseError), log
    assert str(error).endswith(
        "the root cause: GreeterAlias (AWS::Lambda::Alias): CodeDeploy deployment d-5MZ8T3H2A "
        "did not succeed (status Stopped). CodeDeploy deployment d-5MZ8T3H2A Stopped: "
        "ALARM_ACTIVE: One or more alarms of the deployment group went into ALARM state; the "
        "deployment was stopped and its traffic moved back. Alarms watching it: "
        "app-Greeter-errors, app-Greeter-latency."
    )
    assert "GreeterAlias: CodeDeploy d-5MZ8T3H2A InProgress, 10% of traffic on version 8" in log
    assert len(calls(double, "codedeploy:GetDeploymentGroup")) == 1


def test_a_rollout_seen_failing_fails_the_deploy_though_the_stack_completed(
    play: Play,
) -> None:
    double = play("stack-completes-but-ecs-rollout-failed")

    error, log = run(double)

    assert isinstance(error, PhaseError), log
    assert str(error) == (
        f"update failed: stack {STACK} ended UPDATE_COMPLETE, but a rollout this update started "
        "failed: WebService (AWS::ECS::Service): ECS deployment ecs-svc/6120394857712094433 "
        "FAILED: ECS deployment circuit breaker: tasks failed to start. Stopped tasks: Task "
        "failed container health checks (web: exit code 143)."
    )


def test_a_rollout_that_never_moves_is_no_evidence_of_failure(play: Play) -> None:
    scenario = load_scenario(SCENARIOS / "ecs-rolling-rollout-completes.yml")
    timeline = scenario["ecs"]["WebService"]["execute"][0]
    scenario["ecs"]["WebService"]["execute"] = [timeline[:2]]  # IN_PROGRESS, and no more
    double = play(scenario)

    result, log = run(double)

    assert result.status == "UPDATE_COMPLETE", log
    assert progress(log, "WebService") == [
        "WebService: ROLLING rollout IN_PROGRESS, 0 of 2 running, 0 pending, 0 failed"
    ]


def test_an_endpoint_without_ecs_costs_one_warning_and_nothing_else(play: Play) -> None:
    scenario = load_scenario(SCENARIOS / "ecs-rolling-rollout-completes.yml")
    double = play({**scenario, "unimplemented": ["ecs"]})

    result, log = run(double)

    assert result.status == "UPDATE_COMPLETE", log
    warnings = [line for line in log.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "warning: rollout progress of WebService unavailable: DescribeServices: "
        "UnknownOperationException: DescribeServices is not implemented here"
    )
    assert len(calls(double, "ecs:DescribeServices")) == 1
    assert not [line for line in log.splitlines() if line.startswith("::") and "rollout" in line]


def test_an_unreachable_ecs_costs_one_warning_and_the_deploy_goes_on(play: Play) -> None:
    double = play("ecs-rolling-rollout-completes")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = aws_client("ecs", closed, attempts=1)

    result, log = run(double, sources(double, ecs=unreachable))

    assert result.status == "UPDATE_COMPLETE", log
    warnings = [line for line in log.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert "rollout progress of WebService unavailable: Could not connect" in warnings[0]
    assert "(no more ECS progress in this deploy)" in warnings[0]


def test_throttled_lookups_slow_down_and_never_fail(play: Play) -> None:
    scenario = load_scenario(SCENARIOS / "ecs-rolling-rollout-completes.yml")
    double = play({**scenario, "throttle": {"ecs:DescribeServices": [2, 3, 4]}})
    no_retries = aws_client("ecs", double.url, attempts=1)

    result, log = run(double, sources(double, ecs=no_retries))

    assert result.status == "UPDATE_COMPLETE", log
    assert "warning" not in log
    assert progress(log, "WebService")[-1] == (
        "WebService: ROLLING rollout COMPLETED, 2 of 2 running, 0 pending, 0 failed"
    )
    times = [c["at"] for c in calls(double, "ecs:DescribeServices")]
    # After the throttled calls the interval had doubled three times: 0.05 → 0.4.
    assert times[4] - times[3] >= 0.4


def test_stack_rollback_alarms_reach_cloudformation_with_the_change_set(play: Play) -> None:
    double = play("rollback-alarms-reach-the-stack")

    result, _ = run(double, rollback_alarms=(ALARM,), rollback_monitoring_minutes=15)

    assert result.status == "UPDATE_COMPLETE"
    created = calls(double, "CreateChangeSet")[0]["params"]
    prefix = "RollbackConfiguration"
    assert created[f"{prefix}.RollbackTriggers.member.1.Arn"] == ALARM
    assert created[f"{prefix}.RollbackTriggers.member.1.Type"] == "AWS::CloudWatch::Alarm"
    assert created[f"{prefix}.MonitoringTimeInMinutes"] == "15"
    stack = aws_client("cloudformation", double.url).describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["RollbackConfiguration"] == {
        "RollbackTriggers": [{"Arn": ALARM, "Type": "AWS::CloudWatch::Alarm"}],
        "MonitoringTimeInMinutes": 15,
    }


# --- through the command, as CI runs it --------------------------------------------------------


def with_rollback_alarm(config: Path) -> None:
    text = config.read_text()
    config.write_text(
        text.replace(
            "\nprovider:\n",
            f"\nprovider:\n  rollbackConfiguration:\n    monitoringTimeInMinutes: 5\n"
            f"    alarms:\n      - {ALARM}\n",
            1,
        )
    )


def stretched(value: Any, factor: float) -> Any:
    """The scenario at a slower pace: every `at` times `factor`."""
    if isinstance(value, dict):
        return {k: v * factor if k == "at" else stretched(v, factor) for k, v in value.items()}
    if isinstance(value, list):
        return [stretched(item, factor) for item in value]
    return value


def test_a_failed_rollout_ends_the_command_s_log_and_annotation_with_its_reason(
    app: App, play: Play, tmp_path: Path
) -> None:
    # The command paces itself as against AWS (events every 1-5 s, a rollout every 5 s): the
    # scenario is played four times slower, so that it still sees what AWS would show it.
    scenario = load_scenario(SCENARIOS / "ecs-rollout-fails-circuit-breaker.yml")
    double = play(stretched(scenario, 4), app.stack_name)
    with_rollback_alarm(app.directory / "hybridless.yml")
    app.env = {
        **cli_env(app, double, tmp_path),
        "AWS_ENDPOINT_URL_ECS": double.url,
        "AWS_ENDPOINT_URL_CODEDEPLOY": double.url,
    }

    result = app.deploy()

    assert result.returncode == 1, result.log
    last = [line for line in result.log.splitlines() if line.strip()][-2:]
    reason = "ECS deployment ecs-svc/8821736401926338877 FAILED: ECS deployment circuit breaker"
    assert "the root cause: WebService (AWS::ECS::Service)" in last[0]
    assert reason in last[0], result.log
    assert "Stopped tasks: Essential container in task exited (web: exit code 1)" in last[0]
    assert last[1].startswith("::error title=update failed::")
    assert reason in last[1] and "OutOfMemoryError" in last[1]
    assert "WebService: rollout IN_PROGRESS, 0 of 2 running" in result.log
    created = calls(double, "CreateChangeSet")[0]["params"]
    assert created["RollbackConfiguration.RollbackTriggers.member.1.Arn"] == ALARM
    assert created["RollbackConfiguration.MonitoringTimeInMinutes"] == "5"
