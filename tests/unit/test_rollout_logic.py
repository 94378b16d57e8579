"""Following rollouts, the pure parts and the lookups against stand-in clients: which group moves
which alias, a rollout as a line, when a line is printed, how a failure is explained, which
deployments count as this update's, and that nothing ECS or CodeDeploy does can fail a deploy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from hybridless.report import Reporter
from hybridless.stack import update
from hybridless.stack.events import Poller
from hybridless.stack.rollout import (
    Rollouts,
    Sources,
    codedeploy_explanation,
    codedeploy_groups,
    codedeploy_line,
    codedeploy_reason,
    current_hook,
    ecs_explanation,
    ecs_failed,
    ecs_line,
    service_location,
    task_reasons,
    watched_alarms,
    with_reason,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ARN = "arn:aws:ecs:us-east-1:123456789012:service/app-cluster/app-web"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def deployment(
    id: str, state: str, created: float, status: str = "PRIMARY", **counts: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "status": status,
        "rolloutState": state,
        "createdAt": at(created),
        "desiredCount": counts.get("desired", 2),
        "runningCount": counts.get("running", 0),
        "pendingCount": counts.get("pending", 0),
        "failedTasks": counts.get("failed", 0),
        **({"rolloutStateReason": counts["reason"]} if "reason" in counts else {}),
    }


def task(started_by: str, reason: str, stopped: float, *containers: dict[str, Any]) -> dict:
    return {
        "taskArn": f"arn:task/{started_by}/{stopped}",
        "startedBy": started_by,
        "stoppedReason": reason,
        "stoppedAt": at(stopped),
        "containers": list(containers),
    }


# --- which group moves which alias -------------------------------------------------------------


def alias(application: Any, group: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Alias",
        "Properties": {"Name": "live"},
        "UpdatePolicy": {
            "CodeDeployLambdaAliasUpdate": {
                "ApplicationName": application,
                "DeploymentGroupName": group,
            }
        },
    }


def test_an_alias_s_group_is_read_from_its_update_policy_in_every_template() -> None:
    root = {"Resources": {"WebAlias": alias("app", "app-Web")}}
    nested = {"Resources": {"GreeterAlias": alias("app", "app-Greeter")}}

    assert codedeploy_groups([root, nested]) == {
        "WebAlias": ("app", "app-Web"),
        "GreeterAlias": ("app", "app-Greeter"),
    }


def test_a_name_given_by_ref_is_read_from_the_resource_it_points_at() -> None:
    template = {
        "Resources": {
            "GreeterAlias": alias({"Ref": "Application"}, {"Ref": "GreeterGroup"}),
            "Application": {
                "Type": "AWS::CodeDeploy::Application",
                "Properties": {"ApplicationName": "app-deployments"},
            },
            "GreeterGroup": {
                "Type": "AWS::CodeDeploy::DeploymentGroup",
                "Properties": {"DeploymentGroupName": "app-Greeter"},
            },
        }
    }

    assert codedeploy_groups([template]) == {"GreeterAlias": ("app-deployments", "app-Greeter")}


def test_an_alias_whose_group_is_known_only_at_deploy_time_is_left_out() -> None:
    template = {
        "Resources": {
            "Generated": alias({"Ref": "Application"}, "app-Greeter"),
            "Application": {"Type": "AWS::CodeDeploy::Application", "Properties": {}},
            "Computed": alias({"Fn::Sub": "${AWS::StackName}"}, "app-Greeter"),
            "Plain": {"Type": "AWS::Lambda::Alias", "Properties": {"Name": "live"}},
            "NotAnAlias": {**alias("app", "g"), "Type": "AWS::Lambda::Function"},
        }
    }

    assert codedeploy_groups([template, {}, {"Resources": []}]) == {}


# --- ECS: lines ---------------------------------------------------------------------------------


def test_a_service_arn_gives_its_cluster_and_name_in_both_forms() -> None:
    assert service_location(ARN) == ("app-cluster", "app-web")
    assert service_location("arn:aws:ecs:us-east-1:123456789012:service/app-web") == (
        "default",
        "app-web",
    )
    assert service_location("") is None
    assert service_location("arn:aws:lambda:us-east-1:123456789012:function:f") is None
    assert service_location("WebService-physical") is None


def test_the_line_shows_the_primary_deployment_its_counts_and_the_strategy() -> None:
    service = {
        "deploymentConfiguration": {"strategy": "CANARY"},
        "deployments": [
            deployment("ecs-svc/1", "COMPLETED", 0, status="ACTIVE", running=2),
            deployment(
                "ecs-svc/2",
                "IN_PROGRESS",
                5,
                running=1,
                pending=1,
                reason="ECS deployment ecs-svc/2 in progress.",
            ),
        ],
    }

    assert ecs_line("WebService", service) == (
        "WebService: CANARY rollout IN_PROGRESS, 1 of 2 running, 1 pending, 0 failed"
    )
    del service["deploymentConfiguration"]
    assert ecs_line("WebService", service).startswith("WebService: rollout IN_PROGRESS, 1 of 2")


def test_the_line_carries_ecs_s_reason_only_when_it_says_more_than_the_routine() -> None:
    rolling_back = deployment(
        "ecs-svc/3",
        "IN_PROGRESS",
        9,
        reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
    )

    assert ecs_line("Web", {"deployments": [rolling_back]}) == (
        "Web: rollout IN_PROGRESS, 0 of 2 running, 0 pending, 0 failed (ECS deployment circuit "
        "breaker: rolling back to deploymentId ecs-svc/1)"
    )
    assert ecs_line("Web", {"deployments": [{"status": "PRIMARY", "desiredCount": 1}]}) == (
        "Web: 0 of 1 running, 0 pending, 0 failed"
    )
    assert ecs_line("Web", {"deployments": []}) == "Web: no deployment in progress"


# --- ECS: which deployments count, and the reason -----------------------------------------------


def test_only_a_deployment_this_update_started_is_evidence_of_failure() -> None:
    earlier = deployment("ecs-svc/1", "FAILED", -30, status="ACTIVE")
    ours = deployment("ecs-svc/2", "IN_PROGRESS", 2)

    assert ecs_failed([earlier, ours], since=at(0)) is None
    assert ecs_failed([earlier, ours], since=None) is None
    assert ecs_failed([earlier, {**ours, "rolloutState": "FAILED"}], at(0)) == {
        **ours,
        "rolloutState": "FAILED",
    }


def test_stopped_tasks_are_the_deployment_s_own_deduplicated_earliest_first_at_most_three() -> None:
    exited = {"name": "web", "exitCode": 1}
    tasks = [
        task("ecs-svc/2", "Essential container in task exited", 5, exited),
        task(
            "ecs-svc/2",
            "Essential container in task exited",
            1,
            exited,
            {"name": "log", "exitCode": 0},
        ),
        task("ecs-svc/1", "Scaling activity initiated by deployment", 0),
        task(
            "ecs-svc/2",
            "Task failed ELB health checks",
            3,
            {"name": "web", "exitCode": 137, "reason": "OutOfMemoryError: killed"},
        ),
        task(
            "ecs-svc/2",
            "CannotPullContainerError: pull access denied",
            7,
            {"name": "web", "reason": "CannotPullContainerError"},
        ),
        task("ecs-svc/2", "Task stopped by user", 9),
    ]

    assert task_reasons(tasks, "ecs-svc/2") == [
        "Essential container in task exited (web: exit code 1)",
        "Task failed ELB health checks (web: exit code 137, OutOfMemoryError: killed)",
        "CannotPullContainerError: pull access denied (web: CannotPullContainerError)",
    ]


def test_a_failed_service_is_explained_by_its_failed_deployment_and_its_tasks() -> None:
    failed = deployment(
        "ecs-svc/2",
        "FAILED",
        2,
        status="ACTIVE",
        reason="ECS deployment circuit breaker: tasks failed to start.",
    )
    tasks = [
        task("ecs-svc/2", "Essential container in task exited", 4, {"name": "web", "exitCode": 1})
    ]

    assert ecs_explanation([failed], tasks, at(0)) == (
        "ECS deployment ecs-svc/2 FAILED: ECS deployment circuit breaker: tasks failed to start. "
        "Stopped tasks: Essential container in task exited (web: exit code 1)."
    )
    assert ecs_explanation([failed], [], at(0)) == (
        "ECS deployment ecs-svc/2 FAILED: ECS deployment circuit breaker: tasks failed to start."
    )


def test_a_rollout_still_in_progress_explains_only_with_stopped_tasks() -> None:
    ours = deployment("ecs-svc/2", "IN_PROGRESS", 2, reason="ECS deployment ecs-svc/2 in progress.")
    tasks = [task("ecs-svc/2", "Task failed container health checks", 4)]

    assert ecs_explanation([ours], [], at(0)) == ""
    assert ecs_explanation([ours], tasks, at(0)) == (
        "ECS deployment ecs-svc/2 IN_PROGRESS. Stopped tasks: Task failed container health checks."
    )
    assert ecs_explanation([ours], tasks, None) == ""


def test_the_rollout_s_reason_follows_cloudformation_s_as_a_sentence() -> None:
    assert with_reason("stack app ended X; the root cause: Web: broken", "ECS: why.") == (
        "stack app ended X; the root cause: Web: broken. ECS: why."
    )
    assert with_reason("... was triggered'.", "ECS: why.") == "... was triggered'. ECS: why."
    assert with_reason("message", "") == "message"


# --- CodeDeploy ---------------------------------------------------------------------------------


def lambda_target(weight: float | None, **hooks: str) -> dict[str, Any]:
    info: dict[str, Any] = {"functionName": "app-Greeter", "targetVersion": "7"}
    if weight is not None:
        info["targetVersionWeight"] = weight
    return {
        "lambdaTarget": {
            "lifecycleEvents": [
                {"lifecycleEventName": name, "status": status} for name, status in hooks.items()
            ],
            "lambdaFunctionInfo": info,
        }
    }


def test_the_line_shows_the_share_of_traffic_on_the_new_version_and_the_hook() -> None:
    running = {"deploymentId": "d-ABC", "status": "InProgress"}

    assert codedeploy_line(
        "GreeterAlias",
        running,
        [
            lambda_target(
                10.0,
                BeforeAllowTraffic="Succeeded",
                AllowTraffic="InProgress",
                AfterAllowTraffic="Pending",
            )
        ],
    ) == (
        "GreeterAlias: CodeDeploy d-ABC InProgress, 10% of traffic on version 7, AllowTraffic "
        "InProgress"
    )
    assert codedeploy_line("A", running, [lambda_target(12.5)]) == (
        "A: CodeDeploy d-ABC InProgress, 12.5% of traffic on version 7"
    )
    assert codedeploy_line("A", {"deploymentId": "d-ABC", "status": "Created"}, []) == (
        "A: CodeDeploy d-ABC Created"
    )


def test_the_hook_shown_is_the_one_running_else_the_last_that_ran() -> None:
    done = lambda_target(
        100, BeforeAllowTraffic="Succeeded", AllowTraffic="Succeeded", AfterAllowTraffic="Pending"
    )

    assert current_hook(done["lambdaTarget"]) == "AllowTraffic Succeeded"
    assert current_hook(lambda_target(0, BeforeAllowTraffic="Pending")["lambdaTarget"]) == ""


def test_an_alarm_s_stop_is_explained_with_codedeploy_s_error_and_the_alarms_watching() -> None:
    stopped = {
        "deploymentId": "d-ABC",
        "status": "Stopped",
        "createTime": at(3),
        "errorInformation": {"code": "ALARM_ACTIVE", "message": "Alarm app-errors went off."},
    }

    assert codedeploy_reason(stopped, [], ["app-errors", "app-latency"]) == (
        "CodeDeploy deployment d-ABC Stopped: ALARM_ACTIVE: Alarm app-errors went off. Alarms "
        "watching it: app-latency."
    )
    assert codedeploy_reason(stopped, [], ["app-errors"]) == (
        "CodeDeploy deployment d-ABC Stopped: ALARM_ACTIVE: Alarm app-errors went off."
    )
    assert codedeploy_explanation([stopped], {}, [], at(0)).startswith("CodeDeploy deployment")
    assert codedeploy_explanation([stopped], {}, [], at(5)) == ""  # an earlier deploy's


def test_a_failed_hook_is_named_with_its_diagnostics() -> None:
    failed = {
        "deploymentId": "d-ABC",
        "status": "Failed",
        "errorInformation": {"code": "HOOK_EXECUTION_FAILURE"},
    }
    target = lambda_target(0, BeforeAllowTraffic="Failed")
    target["lambdaTarget"]["lifecycleEvents"][0]["diagnostics"] = {
        "errorCode": "ScriptFailed",
        "message": "The hook reported Failed: smoke test got HTTP 500",
    }

    assert codedeploy_reason(failed, [target]) == (
        "CodeDeploy deployment d-ABC Failed: HOOK_EXECUTION_FAILURE. Hook BeforeAllowTraffic "
        "failed: The hook reported Failed: smoke test got HTTP 500."
    )


def test_the_alarms_watching_are_the_deployment_s_override_else_its_group_s() -> None:
    group = {"alarmConfiguration": {"enabled": True, "alarms": [{"name": "group-alarm"}]}}
    override = {"overrideAlarmConfiguration": {"enabled": True, "alarms": [{"name": "mine"}]}}

    assert watched_alarms({}, group) == ["group-alarm"]
    assert watched_alarms(override, group) == ["mine"]
    assert watched_alarms({}, {}) == []


# --- the lookups, against stand-in clients ------------------------------------------------------


class Ecs:
    """Answers DescribeServices from a list, one answer a call (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def describe_services(self, **_: Any) -> Any:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def list_tasks(self, **_: Any) -> Any:
        return {"taskArns": []}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def service(*deployments: dict[str, Any]) -> dict[str, Any]:
    return {"services": [{"serviceArn": ARN, "deployments": list(deployments)}]}


def in_progress(status: str = "UPDATE_IN_PROGRESS") -> dict[str, dict[str, Any]]:
    return {
        "WebService": {
            "LogicalResourceId": "WebService",
            "ResourceType": "AWS::ECS::Service",
            "ResourceStatus": status,
            "PhysicalResourceId": ARN,
            "Label": "",
        }
    }


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "DescribeServices")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def follow(ecs: Ecs, clock: Clock) -> tuple[Rollouts, io.StringIO]:
    stream = io.StringIO()
    rollouts = Rollouts(Sources(ecs=ecs, interval=5.0), Reporter(stream, ci="github"), clock)
    return rollouts, stream


def lines(stream: io.StringIO) -> list[str]:
    return [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]


def test_a_line_is_printed_when_the_rollout_changes_and_not_more_often_than_the_interval(
    clock: Clock,
) -> None:
    first = deployment("ecs-svc/2", "IN_PROGRESS", 1)
    ecs = Ecs(service(first), service(first), service({**first, "runningCount": 1}))
    rollouts, stream = follow(ecs, clock)

    moved = [rollouts.follow(in_progress(), at(0))]
    clock.now = 1.0
    moved.append(rollouts.follow(in_progress(), at(0)))  # too early: no lookup
    clock.now = 5.0
    moved.append(rollouts.follow(in_progress(), at(0)))  # the same answer: no line
    clock.now = 10.0
    moved.append(rollouts.follow(in_progress(), at(0)))

    assert ecs.calls == 3
    assert moved == [True, False, False, True]
    assert lines(stream) == [
        "WebService: rollout IN_PROGRESS, 0 of 2 running, 0 pending, 0 failed",
        "WebService: rollout IN_PROGRESS, 1 of 2 running, 0 pending, 0 failed",
    ]
    assert rollouts.due_in() == 5.0


def test_a_resource_that_settles_gets_a_last_look_then_none(clock: Clock) -> None:
    ecs = Ecs(
        service(deployment("ecs-svc/2", "IN_PROGRESS", 1)),
        service(deployment("ecs-svc/2", "COMPLETED", 1)),
    )
    rollouts, stream = follow(ecs, clock)

    rollouts.follow(in_progress(), at(0))
    clock.now = 0.5
    rollouts.follow(in_progress("UPDATE_COMPLETE"), at(0))
    clock.now = 60.0
    rollouts.follow(in_progress("UPDATE_COMPLETE"), at(0))

    assert ecs.calls == 2
    assert lines(stream)[-1].startswith("WebService: rollout COMPLETED")
    assert rollouts.due_in() is None


def test_throttling_spaces_lookups_out_without_a_word(clock: Clock) -> None:
    ecs = Ecs(error("ThrottlingException"), service(deployment("ecs-svc/2", "IN_PROGRESS", 1)))
    rollouts, stream = follow(ecs, clock)

    rollouts.follow(in_progress(), at(0))
    clock.now = 5.0
    rollouts.follow(in_progress(), at(0))  # the interval doubled: not yet
    clock.now = 10.0
    rollouts.follow(in_progress(), at(0))

    assert ecs.calls == 2
    assert "warning" not in stream.getvalue()


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (error("AccessDeniedException"), "DescribeServices: AccessDeniedException: no"),
        (EndpointConnectionError(endpoint_url="http://ecs"), "Could not connect to the endpoint"),
        ({"services": [], "failures": [{"reason": "MISSING"}]}, "(MISSING)"),
        ({"services": [{"deployments": "not a list"}]}, "unavailable: "),
    ],
)
def test_any_other_error_is_one_warning_and_the_end_of_lookups(
    clock: Clock, failure: Any, said: str
) -> None:
    ecs = Ecs(failure)
    rollouts, stream = follow(ecs, clock)

    for second in (0, 5, 10, 15):
        clock.now = second
        rollouts.follow(in_progress(), at(0))

    assert ecs.calls == 1
    warnings = lines(stream)
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: rollout progress of WebService unavailable: ")
    assert said in warnings[0]
    assert rollouts.broken() == "" and rollouts.due_in() is None


def test_a_failed_rollout_is_announced_once_as_an_error_annotation(clock: Clock) -> None:
    failed = deployment(
        "ecs-svc/2", "FAILED", 1, reason="ECS deployment circuit breaker: tasks failed to start."
    )
    ecs = Ecs(service(failed))
    rollouts, stream = follow(ecs, clock)

    for second in (0, 5, 10):
        clock.now = second
        rollouts.follow(in_progress(), at(0))

    annotations = [line for line in stream.getvalue().splitlines() if line.startswith("::error")]
    assert annotations == [
        "::error title=WebService (AWS%3A%3AECS%3A%3AService) rollout::ECS deployment ecs-svc/2 "
        "FAILED: ECS deployment circuit breaker: tasks failed to start."
    ]
    assert rollouts.broken() == (
        "WebService (AWS::ECS::Service): ECS deployment ecs-svc/2 FAILED: ECS deployment "
        "circuit breaker: tasks failed to start."
    )


def test_a_service_without_an_arn_yet_is_not_looked_up(clock: Clock) -> None:
    ecs = Ecs(service())
    rollouts, _ = follow(ecs, clock)
    creating = in_progress("CREATE_IN_PROGRESS")
    creating["WebService"]["PhysicalResourceId"] = ""

    rollouts.follow(creating, None)

    assert ecs.calls == 0


# --- the watcher ----------------------------------------------------------------------------------


class Stack:
    """DescribeStacks and DescribeStackEvents of a stack that settles while being described:
    its last events are written between the tool's two calls."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = [self.event("Queue", "UPDATE_IN_PROGRESS", 1)]
        self.described = 0

    @staticmethod
    def event(resource: str, status: str, second: int) -> dict[str, Any]:
        return {
            "EventId": f"{resource}-{status}",
            "StackName": "app",
            "Timestamp": at(second),
            "LogicalResourceId": resource,
            "ResourceType": "AWS::SQS::Queue",
            "ResourceStatus": status,
            "PhysicalResourceId": resource,
        }

    def describe_stacks(self, StackName: str) -> Any:
        self.described += 1
        status = "UPDATE_IN_PROGRESS"
        if self.described == 2:
            self.events += [
                self.event("Queue", "UPDATE_COMPLETE", 2),
                {
                    **self.event("app", "UPDATE_COMPLETE", 3),
                    "ResourceType": "AWS::CloudFormation::Stack",
                },
            ]
            status = "UPDATE_COMPLETE"
        return {"Stacks": [{"StackName": "app", "StackStatus": status}]}

    def get_paginator(self, name: str) -> Any:
        stack = self

        class Pages:
            def paginate(self, StackName: str) -> Iterator[dict[str, Any]]:
                yield {"StackEvents": list(reversed(stack.events))}

        return Pages()


def test_events_written_as_the_stack_settles_are_still_printed() -> None:
    stream = io.StringIO()
    poller = Poller(fastest=0.0, slowest=0.0, sleep=lambda _: None)

    watched = update._watch(Stack(), "app", Reporter(stream), poller, float("inf"), set())

    assert watched.status == "UPDATE_COMPLETE"
    assert [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "Queue AWS::SQS::Queue UPDATE_IN_PROGRESS",
        "Queue AWS::SQS::Queue UPDATE_COMPLETE",
        "app AWS::CloudFormation::Stack UPDATE_COMPLETE",
    ]


def test_a_rollout_due_sooner_wakes_the_poller_without_changing_its_pace() -> None:
    slept: list[float] = []
    poller = Poller(fastest=1.0, slowest=5.0, sleep=slept.append, jitter=lambda a, b: 1.0)

    poller.wait(progressed=False, at_most=0.25)
    poller.wait(progressed=False)
    poller.wait(progressed=False, at_most=-1.0)

    assert slept == [0.25, 2.25, 0.0]
