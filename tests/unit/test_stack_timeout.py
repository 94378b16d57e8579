"""What happens when the stack outlives the timeout: following a stack that stays *_IN_PROGRESS
with a fake clock, what is cancelled or deleted and what the user is told; plus the request's
parameter and tag lists and the direct method's "unchanged" check."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hybridless.errors import PhaseError
from hybridless.report import Reporter
from hybridless.stack import update
from hybridless.stack.update import Poller, Request

STACK = "s"
TEMPLATE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeEvents:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        assert kwargs == {"StackName": STACK}
        yield from self.pages


class FakeCloudFormation:
    """A stack in `statuses[0]`, then each next status per describe_stacks, the last one
    forever; its event list holds no events this deploy has not seen."""

    def __init__(
        self,
        *statuses: str,
        cancel_error: ClientError | None = None,
        template: Any = None,
    ) -> None:
        self.statuses = list(statuses)
        self.cancel_error = cancel_error
        self.template = template
        self.described = 0
        self.cancelled: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.templates_read: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def describe_stacks(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs == {"StackName": STACK}
        status = self.statuses[min(self.described, len(self.statuses) - 1)]
        self.described += 1
        return {"Stacks": [{"StackName": STACK, "StackId": "id/s", "StackStatus": status}]}

    def get_paginator(self, name: str) -> FakeEvents:
        assert name == "describe_stack_events"
        return FakeEvents([{"StackEvents": []}, {"StackEvents": []}])

    def cancel_update_stack(self, **kwargs: Any) -> None:
        self.cancelled.append(kwargs)
        if self.cancel_error is not None:
            raise self.cancel_error

    def delete_stack(self, **kwargs: Any) -> None:
        self.deleted.append(kwargs)

    def describe_stack_events(self, **kwargs: Any) -> dict[str, Any]:
        return {"StackEvents": []}

    def update_stack(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)

    def get_template(self, **kwargs: Any) -> dict[str, Any]:
        self.templates_read.append(kwargs)
        return {"TemplateBody": self.template}


def request(**changes: Any) -> Request:
    fields: dict[str, Any] = {
        "stack_name": STACK,
        "template_url": "u",
        "capabilities": [],
        "tags": {},
        "method": "changeset",
        "deployment_id": "d",
        "timeout_minutes": 2,
    }
    fields.update(changes)
    return Request(**fields)


def follow(client: FakeCloudFormation, deadline_seconds: float = 120.0) -> tuple[str, str]:
    """Run _follow with a fake clock; returns the status and what was printed."""
    clock = FakeClock()
    stream = io.StringIO()
    reporter = Reporter(stream, ci="terminal")
    poller = Poller(sleep=clock.sleep, clock=clock)
    status = update._follow(client, request(), set(), reporter, poller, clock() + deadline_seconds)
    return status, stream.getvalue()


def give_up_message(client: FakeCloudFormation) -> str:
    with pytest.raises(PhaseError) as error:
        follow(client)
    assert error.value.phase == "update"
    return str(error.value)


# --- past the deadline ------------------------------------------------------------------------


def test_an_update_past_the_deadline_is_cancelled_once() -> None:
    client = FakeCloudFormation("UPDATE_IN_PROGRESS")

    message = give_up_message(client)

    assert client.cancelled == [{"StackName": STACK}]
    assert client.deleted == []
    assert "still UPDATE_IN_PROGRESS after 2 minute(s)" in message
    assert "the update was cancelled" in message


def test_the_cancelled_update_is_also_reported_as_a_warning() -> None:
    client = FakeCloudFormation("UPDATE_IN_PROGRESS")
    clock = FakeClock()
    stream = io.StringIO()
    poller = Poller(sleep=clock.sleep, clock=clock)

    with pytest.raises(PhaseError):
        update._follow(
            client, request(), set(), Reporter(stream, ci="terminal"), poller, clock() + 120
        )

    assert "UPDATE_IN_PROGRESS after 2 minute(s)" in stream.getvalue()


def test_the_stack_is_polled_until_the_deadline_passes() -> None:
    client = FakeCloudFormation("UPDATE_IN_PROGRESS")
    clock = FakeClock()
    start = clock()
    poller = Poller(sleep=clock.sleep, clock=clock)

    with pytest.raises(PhaseError):
        update._follow(
            client, request(), set(), Reporter(io.StringIO(), ci="terminal"), poller, start + 120
        )

    before_last_sleep = clock() - clock.sleeps[-1]
    assert before_last_sleep <= start + 120 < clock()
    assert client.described == len(clock.sleeps) + 1


def test_a_stack_being_created_past_the_deadline_is_deleted() -> None:
    client = FakeCloudFormation("CREATE_IN_PROGRESS")

    message = give_up_message(client)

    assert client.deleted == [{"StackName": STACK}]
    assert client.cancelled == []
    assert "still CREATE_IN_PROGRESS after 2 minute(s)" in message
    assert "being deleted" in message


@pytest.mark.parametrize(
    "status",
    [
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    ],
)
def test_a_stack_in_another_state_is_left_to_finish(status: str) -> None:
    client = FakeCloudFormation(status)

    message = give_up_message(client)

    assert client.cancelled == []
    assert client.deleted == []
    assert f"still {status} after 2 minute(s)" in message
    assert "left to finish" in message


def test_a_failed_cancel_is_reported_not_raised() -> None:
    refusal = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "cannot be cancelled now"}},
        "CancelUpdateStack",
    )
    client = FakeCloudFormation("UPDATE_IN_PROGRESS", cancel_error=refusal)

    message = give_up_message(client)

    assert client.cancelled == [{"StackName": STACK}]
    assert "cancelling failed (ValidationError: cannot be cancelled now)" in message
    assert "left to finish" in message


def test_a_fractional_timeout_is_named_as_given() -> None:
    client = FakeCloudFormation("UPDATE_IN_PROGRESS")
    clock = FakeClock()
    poller = Poller(sleep=clock.sleep, clock=clock)

    with pytest.raises(PhaseError) as error:
        update._follow(
            client,
            request(timeout_minutes=0.5),
            set(),
            Reporter(io.StringIO(), ci="terminal"),
            poller,
            clock() + 30,
        )

    assert "after 0.5 minute(s)" in str(error.value)


def test_deploy_stack_cancels_a_direct_update_after_timeout_minutes() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", "UPDATE_IN_PROGRESS")
    clock = FakeClock()
    start = clock()
    # the longest jitter every time: the worst overshoot past the limit is one slowest wait
    poller = Poller(sleep=clock.sleep, clock=clock, jitter=lambda low, high: high)

    with pytest.raises(PhaseError) as error:
        update.deploy_stack(
            client, request(method="direct"), Reporter(io.StringIO(), ci="terminal"), poller
        )

    assert len(client.updates) == 1
    assert client.cancelled == [{"StackName": STACK}]
    assert "still UPDATE_IN_PROGRESS after 2 minute(s)" in str(error.value)
    assert start + 120 < clock() <= start + 120 + poller.slowest * 1.2


# --- before the deadline ----------------------------------------------------------------------


def test_a_stack_that_completes_before_the_deadline_is_not_cancelled() -> None:
    client = FakeCloudFormation(
        "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"
    )

    status, printed = follow(client)

    assert status == "UPDATE_COMPLETE"
    assert client.cancelled == []
    assert client.deleted == []
    assert client.described == 4
    assert "cancel" not in printed


def test_a_created_stack_before_the_deadline_is_not_deleted() -> None:
    client = FakeCloudFormation("CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE")

    status, _ = follow(client)

    assert status == "CREATE_COMPLETE"
    assert client.deleted == []


def test_a_stack_settled_past_the_deadline_is_not_cancelled() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE")

    status, _ = follow(client, deadline_seconds=-1)

    assert status == "UPDATE_COMPLETE"
    assert client.cancelled == []


# --- Request ----------------------------------------------------------------------------------


def test_parameter_list_has_the_cloudformation_shape() -> None:
    req = request(parameters={"Size": "2", "Domain": "example.com"})

    assert req.parameter_list() == [
        {"ParameterKey": "Size", "ParameterValue": "2"},
        {"ParameterKey": "Domain", "ParameterValue": "example.com"},
    ]


def test_tag_list_has_the_cloudformation_shape() -> None:
    req = request(tags={"team": "web", "hybridless:deployment": "d"})

    assert req.tag_list() == [
        {"Key": "team", "Value": "web"},
        {"Key": "hybridless:deployment", "Value": "d"},
    ]


def test_empty_parameters_and_tags_give_empty_lists() -> None:
    req = request()

    assert req.parameter_list() == []
    assert req.tag_list() == []


# --- _unchanged -------------------------------------------------------------------------------


def deployed_stack(tags: dict[str, str], parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "StackName": STACK,
        "StackStatus": "UPDATE_COMPLETE",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    }


def direct_request(tags: dict[str, str], parameters: dict[str, str]) -> Request:
    return request(
        method="direct",
        template_body=json.dumps(TEMPLATE),
        tags=tags,
        parameters=parameters,
    )


def test_same_template_tags_and_parameters_are_unchanged() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(TEMPLATE, indent=2))
    stack = deployed_stack({"team": "web"}, {"Size": "2"})

    assert update._unchanged(client, stack, direct_request({"team": "web"}, {"Size": "2"}))
    assert client.templates_read == [{"StackName": STACK, "TemplateStage": "Original"}]


def test_a_template_read_back_as_a_dict_is_compared_too() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=TEMPLATE)
    stack = deployed_stack({}, {})

    assert update._unchanged(client, stack, direct_request({}, {}))


def test_different_parameters_are_changed() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(TEMPLATE))
    stack = deployed_stack({"team": "web"}, {"Size": "1"})

    assert not update._unchanged(client, stack, direct_request({"team": "web"}, {"Size": "2"}))


def test_an_added_parameter_is_changed() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(TEMPLATE))
    stack = deployed_stack({}, {})

    assert not update._unchanged(client, stack, direct_request({}, {"Size": "2"}))


def test_different_tags_are_changed() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(TEMPLATE))
    stack = deployed_stack({"team": "web"}, {})

    assert not update._unchanged(client, stack, direct_request({"team": "ops"}, {}))


def test_a_different_template_is_changed() -> None:
    other = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(other))
    stack = deployed_stack({}, {})

    assert not update._unchanged(client, stack, direct_request({}, {}))


def test_a_deployed_template_that_is_not_json_is_changed() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template="Resources:\n  Queue: {}\n")
    stack = deployed_stack({}, {})

    assert not update._unchanged(client, stack, direct_request({}, {}))


def test_without_a_template_body_nothing_is_unchanged() -> None:
    client = FakeCloudFormation("UPDATE_COMPLETE", template=json.dumps(TEMPLATE))
    stack = deployed_stack({}, {})

    assert not update._unchanged(client, stack, request(method="direct"))
    assert client.templates_read == []
