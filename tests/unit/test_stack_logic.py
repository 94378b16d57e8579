"""The stack update's pure decisions: which path a stack status takes, change-set names,
the failure worth reporting, polling back-off and the two forms of "no changes"."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from hybridless.errors import PhaseError
from hybridless.report import Reporter
from hybridless.stack.events import failure_message as _failure_message
from hybridless.stack.update import (
    Poller,
    Request,
    _decide,
    _is_no_changes,
    change_set_name,
    deploy_stack,
)

STACK = "hello-dev"
AWS_EMPTY_CHANGE_SET = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
AWS_NO_UPDATES = "No updates are to be performed."
CHANGE_SET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")

# --- _decide ---------------------------------------------------------------------------------


def test_no_stack_is_created() -> None:
    assert _decide(STACK, None) == "CREATE"


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS", "CREATE_FAILED"])
def test_a_stack_that_never_ran_is_recreated(status: str) -> None:
    assert _decide(STACK, status) == "RECREATE"


@pytest.mark.parametrize(
    "status",
    ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"],
)
def test_a_settled_stack_is_updated(status: str) -> None:
    assert _decide(STACK, status) == "UPDATE"


def test_update_rollback_failed_is_a_stuck_stack_to_recover() -> None:
    assert _decide(STACK, "UPDATE_ROLLBACK_FAILED") == "STUCK"


@pytest.mark.parametrize(
    "status",
    [
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
    ],
)
def test_a_stack_being_changed_is_waited_for(status: str) -> None:
    assert _decide(STACK, status) == "WAIT"


@pytest.mark.parametrize("status", ["DELETE_FAILED", "ROLLBACK_FAILED"])
def test_a_stack_that_needs_a_person_stops_the_deploy(status: str) -> None:
    with pytest.raises(PhaseError, match=f"{STACK} is {status}: CloudFormation could not"):
        _decide(STACK, status)


# --- change_set_name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deployment_id",
    [
        "20261122T101500.123Z-1a2b3c4",
        "release_1.2/3 ümlaut",
        "",
        "9starts-with-a-digit",
        "x" * 300,
        "-leading-dash",
    ],
)
def test_a_change_set_name_is_valid_for_cloudformation(deployment_id: str) -> None:
    name = change_set_name(deployment_id)

    assert CHANGE_SET_NAME.match(name), name
    assert len(name) <= 128


def test_a_change_set_name_keeps_the_deployment_id_readable() -> None:
    assert change_set_name("20261122T101500.123Z-1a2b3c4") == (
        "hybridless-20261122T101500-123Z-1a2b3c4"
    )


def test_different_tags_give_different_change_set_names() -> None:
    assert change_set_name("20261122T101500.123Z-1a2b3c4") != change_set_name(
        "20261122T101500.124Z-1a2b3c4"
    )


# --- _failure_message ------------------------------------------------------------------------


def event(logical_id: str, reason: str, kind: str = "AWS::ECS::Service") -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": reason,
    }


def test_the_first_real_failure_is_named_not_the_cancellations() -> None:
    failures = [
        event("WebTargetGroup", "Resource creation cancelled"),
        event("WebService", "ECS Deployment Circuit Breaker was triggered"),
        event("GreeterFunction", "Resource creation Cancelled", "AWS::Lambda::Function"),
        event("Other", "also broken"),
    ]

    message = _failure_message(STACK, "UPDATE_ROLLBACK_COMPLETE", failures)

    assert message == (
        f"stack {STACK} ended UPDATE_ROLLBACK_COMPLETE; the root cause: WebService "
        "(AWS::ECS::Service): ECS Deployment Circuit Breaker was triggered"
    )


def test_the_stack_itself_is_not_the_first_failure() -> None:
    failures = [
        event(STACK, "The following resource(s) failed to create: [WebService]", "Stack"),
        event("WebService", "Invalid request provided"),
    ]

    message = _failure_message(STACK, "ROLLBACK_COMPLETE", failures)

    assert "the root cause: WebService (AWS::ECS::Service): Invalid request provided" in message


def test_when_only_cancellations_failed_the_first_one_is_named() -> None:
    failures = [event("A", "Resource update cancelled"), event("B", "Resource update cancelled")]

    assert "the root cause: A " in _failure_message(STACK, "UPDATE_ROLLBACK_COMPLETE", failures)


def test_without_failures_only_the_status_is_given() -> None:
    assert (
        _failure_message(STACK, "ROLLBACK_COMPLETE", []) == f"stack {STACK} ended ROLLBACK_COMPLETE"
    )


def test_a_failure_without_a_reason_says_so() -> None:
    failure = {"LogicalResourceId": "X", "ResourceType": "T", "ResourceStatus": "CREATE_FAILED"}

    assert _failure_message(STACK, "ROLLBACK_COMPLETE", [failure]).endswith(
        "X (T): no reason given"
    )


# --- Poller ----------------------------------------------------------------------------------


def no_jitter(low: float, high: float) -> float:
    return 1.0


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_the_poller_backs_off_while_nothing_happens_and_caps_at_the_slowest() -> None:
    sleep = RecordingSleep()
    poller = Poller(fastest=1.0, slowest=10.0, sleep=sleep, jitter=no_jitter)

    for _ in range(8):
        poller.wait(progressed=False)

    assert sleep.delays[:5] == pytest.approx([1.5, 2.25, 3.375, 5.0625, 7.59375])
    assert sleep.delays[5:] == [10.0, 10.0, 10.0]
    assert all(b >= a for a, b in zip(sleep.delays, sleep.delays[1:], strict=False))


def test_the_poller_speeds_up_again_on_progress() -> None:
    sleep = RecordingSleep()
    poller = Poller(fastest=0.5, slowest=4.0, sleep=sleep, jitter=no_jitter)

    poller.wait(progressed=False)
    poller.wait(progressed=False)
    poller.wait(progressed=True)
    poller.wait(progressed=False)
    poller.wait(progressed=True)
    poller.wait(progressed=True)

    assert sleep.delays == pytest.approx([0.75, 1.125, 0.5, 0.75, 0.5, 0.5])


def test_the_poller_never_sleeps_longer_than_the_slowest() -> None:
    sleep = RecordingSleep()
    poller = Poller(fastest=3.0, slowest=4.0, sleep=sleep, jitter=no_jitter)

    for _ in range(5):
        poller.wait(progressed=False)

    assert sleep.delays == [4.0] * 5


# --- no changes ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [AWS_EMPTY_CHANGE_SET, AWS_NO_UPDATES])
def test_both_forms_of_no_changes_are_recognised(text: str) -> None:
    assert _is_no_changes(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Template format error: Unresolved resource dependencies [X]",
        "Stack:arn:... is in UPDATE_IN_PROGRESS state and can not be updated.",
        "Requires capabilities : [CAPABILITY_IAM]",
    ],
)
def test_other_failures_are_not_no_changes(text: str) -> None:
    assert not _is_no_changes(text)


class AwsEmptyChangeSetClient:
    """The CloudFormation calls of an update whose change set comes out empty, answered the
    way AWS answers them: the change set is created, then turns FAILED with the no-changes
    reason. (Emulators answer differently, so this one sequence is written out by hand.)"""

    CHANGE_SET_ARN = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/hybridless-x/0a1b2c3d"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.deleted: list[str] = []
        self.stack = {
            "StackName": STACK,
            "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/1",
            "StackStatus": "UPDATE_COMPLETE",
            "Outputs": [{"OutputKey": "ClusterName", "OutputValue": STACK}],
        }

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls.append("describe_stacks")
        assert StackName == STACK
        return {"Stacks": [self.stack]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        self.calls.append("describe_stack_events")
        return {"StackEvents": [{"EventId": "e1"}]}

    def create_change_set(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append("create_change_set")
        assert arguments["ChangeSetType"] == "UPDATE"
        return {"Id": self.CHANGE_SET_ARN, "StackId": self.stack["StackId"]}

    def describe_change_set(self, ChangeSetName: str) -> dict[str, Any]:
        self.calls.append("describe_change_set")
        return {
            "ChangeSetId": ChangeSetName,
            "Status": "FAILED",
            "ExecutionStatus": "UNAVAILABLE",
            "StatusReason": AWS_EMPTY_CHANGE_SET,
            "Changes": [],
        }

    def delete_change_set(self, ChangeSetName: str) -> None:
        self.calls.append("delete_change_set")
        self.deleted.append(ChangeSetName)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an empty change set must not lead to {name}")


def test_an_empty_change_set_in_the_aws_form_is_success_without_changes() -> None:
    client = AwsEmptyChangeSetClient()
    stream = io.StringIO()
    sleep = RecordingSleep()

    result = deploy_stack(
        client,
        Request(
            stack_name=STACK,
            template_url="https://bucket.s3.amazonaws.com/t.json",
            capabilities=["CAPABILITY_IAM"],
            tags={"app": "hello"},
            method="changeset",
            deployment_id="20261122T101500.123Z-1a2b3c4",
        ),
        Reporter(stream, ci="terminal"),
        Poller(sleep=sleep),
    )

    assert result.changed is False
    assert result.executed is False
    assert result.change_set_id is None
    assert result.status == "UPDATE_COMPLETE"
    assert result.outputs == {"ClusterName": STACK}
    assert client.deleted == [AwsEmptyChangeSetClient.CHANGE_SET_ARN]
    assert "execute_change_set" not in client.calls
    assert "no changes" in stream.getvalue()
    assert sleep.delays == []
