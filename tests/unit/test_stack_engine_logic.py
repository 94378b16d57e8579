"""The stack engine's pure parts: the root cause among many failures, what failed to roll back,
the poller's pace, the stack settings in the model and on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless import cli
from hybridless.config.loader import load_document
from hybridless.errors import ConfigError
from hybridless.model import Overrides, build_app
from hybridless.stack.events import Poller, failure_message, rollback_failures, root_cause
from hybridless.stack.update import Request

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def failed(
    logical_id: str, reason: str, seconds: int, kind: str = "AWS::ECS::Service"
) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": "UPDATE_FAILED",
        "ResourceStatusReason": reason,
        "Timestamp": T0 + timedelta(seconds=seconds),
        "StackName": "app",
    }


# --- root cause ------------------------------------------------------------------------------


def test_the_earliest_real_failure_is_the_root_cause_whatever_the_order_given() -> None:
    failures = [
        failed("Late", "also broken", 9),
        failed("Sibling", "Resource update cancelled", 2),
        failed("Early", "the actual problem", 3),
    ]

    assert root_cause(failures) is failures[2]


def test_a_nested_stack_s_resource_wins_over_the_stack_reporting_it() -> None:
    parent = failed("Database", "Embedded stack was not successfully updated", 1,
                    "AWS::CloudFormation::Stack")  # fmt: skip
    inner = {
        **failed("Table", "Property is invalid", 5, "AWS::DynamoDB::Table"),
        "Label": "Database/",
    }

    assert root_cause([parent, inner]) is inner
    assert failure_message("app", "UPDATE_ROLLBACK_COMPLETE", [parent, inner]).endswith(
        "the root cause: Database/Table (AWS::DynamoDB::Table): Property is invalid"
    )


def test_the_stack_s_own_failed_status_is_never_the_root_cause() -> None:
    stack = {
        **failed("app", "The following resource(s) failed", 0),
        "ResourceStatus": "UPDATE_ROLLBACK_FAILED",
    }
    web = failed("Web", "Service was not stable", 4)

    assert root_cause([stack, web], "app") is web


def test_when_everything_was_cancelled_the_earliest_cancellation_is_named() -> None:
    a, b = failed("A", "Resource update cancelled", 3), failed("B", "Resource update cancelled", 1)

    assert root_cause([a, b]) is b


# --- what failed to roll back ----------------------------------------------------------------


def test_only_failures_after_the_latest_rollback_began_are_named() -> None:
    newest_first = [
        {"LogicalResourceId": "app", "ResourceStatus": "UPDATE_ROLLBACK_FAILED"},
        failed("Database", "cannot roll back", 5),
        failed("Queue", "also stuck", 4),
        {"LogicalResourceId": "app", "ResourceStatus": "UPDATE_ROLLBACK_IN_PROGRESS"},
        failed("Web", "failed in the update itself", 2),
    ]

    names = [e["LogicalResourceId"] for e in rollback_failures(newest_first, "app")]

    assert names == ["Queue", "Database"]


def test_a_resource_failing_twice_in_the_rollback_is_named_once() -> None:
    newest_first = [
        failed("Database", "second try failed", 6),
        failed("Database", "first try failed", 5),
        {"LogicalResourceId": "app", "ResourceStatus": "UPDATE_ROLLBACK_IN_PROGRESS"},
    ]

    failures = rollback_failures(newest_first, "app")

    assert [f["ResourceStatusReason"] for f in failures] == ["second try failed"]


# --- the poller ------------------------------------------------------------------------------


def pace(jitter: float = 1.0) -> tuple[Poller, list[float]]:
    slept: list[float] = []
    return Poller(1.0, 5.0, sleep=slept.append, jitter=lambda a, b: jitter), slept


def test_near_the_end_the_poller_is_fast_again() -> None:
    poller, slept = pace()

    for _ in range(6):
        poller.wait(progressed=False)
    poller.wait(progressed=False, near_end=True)

    assert slept[-2] == 5.0 and slept[-1] == 1.0


def test_jitter_spreads_each_sleep_within_a_fifth() -> None:
    low, low_slept = pace(0.8)
    high, high_slept = pace(1.2)

    low.wait(progressed=True)
    high.wait(progressed=True)

    assert low_slept == [pytest.approx(0.8)] and high_slept == [pytest.approx(1.2)]


def test_throttling_doubles_the_delay_up_to_four_times_the_slowest() -> None:
    poller, slept = pace()

    for _ in range(6):
        poller.throttled()

    assert slept == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


# --- stack settings --------------------------------------------------------------------------


APP = """\
service: shop
provider:
  stage: dev
  {extra}
hybridless:
  functions:
    Worker:
      events:
        - eventType: lambdaContainer
          runtime: container
"""


def build(tmp_path: Path, extra: str) -> Any:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(APP).replace("{extra}", extra))
    return build_app(load_document(path), Overrides(), {"AWS_REGION": "us-east-1"})


def test_rollback_alarms_and_termination_protection_are_read(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        "terminationProtection: true\n  rollbackConfiguration:\n"
        "    alarms: [arn:aws:cloudwatch:us-east-1:123456789012:alarm:5xx]\n"
        "    monitoringTimeInMinutes: 10",
    )

    assert app.termination_protection is True
    assert app.rollback_alarms == ("arn:aws:cloudwatch:us-east-1:123456789012:alarm:5xx",)
    assert app.rollback_monitoring_minutes == 10


def test_without_the_keys_protection_is_left_alone_and_no_trigger_is_set(tmp_path: Path) -> None:
    app = build(tmp_path, "region: us-east-1")

    assert app.termination_protection is None
    assert app.rollback_alarms == () and app.rollback_monitoring_minutes == 0


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("terminationProtection: yes please", "provider.terminationProtection",
         "must be true or false"),
        ("rollbackConfiguration:\n    alarms: [arn:aws:sns:us-east-1:123456789012:topic]",
         "provider.rollbackConfiguration.alarms[0]", "is not a CloudWatch alarm ARN"),
        ("rollbackConfiguration:\n    monitoringTimeInMinutes: 500",
         "provider.rollbackConfiguration.monitoringTimeInMinutes", "out of range"),
        ("rollbackConfiguration:\n    alarm: []", "provider.rollbackConfiguration.alarm",
         "did you mean 'alarms'"),
    ],
)  # fmt: skip
def test_bad_stack_settings_are_named_with_their_key(
    tmp_path: Path, extra: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        build(tmp_path, extra)

    assert any(p.key == key and message in p.message for p in raised.value.problems), raised.value


def test_the_stack_arguments_carry_every_setting_given() -> None:
    request = Request(
        stack_name="app", template_url="u", capabilities=["CAPABILITY_IAM"], tags={"a": "b"},
        method="changeset", deployment_id="d", parameters={"P": "v"},
        role_arn="arn:aws:iam::123456789012:role/cfn", notification_arns=("arn:topic",),
        rollback_alarms=("arn:alarm",), rollback_monitoring_minutes=5,
    )  # fmt: skip

    assert request.stack_arguments() == {
        "StackName": "app",
        "TemplateURL": "u",
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "a", "Value": "b"}],
        "Parameters": [{"ParameterKey": "P", "ParameterValue": "v"}],
        "RoleARN": "arn:aws:iam::123456789012:role/cfn",
        "NotificationARNs": ["arn:topic"],
        "RollbackConfiguration": {
            "RollbackTriggers": [{"Arn": "arn:alarm", "Type": "AWS::CloudWatch::Alarm"}],
            "MonitoringTimeInMinutes": 5,
        },
    }


def test_settings_not_given_are_not_sent() -> None:
    request = Request("app", "u", [], {}, "direct", "d")

    assert set(request.stack_arguments()) == {
        "StackName", "TemplateURL", "Capabilities", "Tags", "Parameters",
    }  # fmt: skip


def test_the_command_line_splits_lists_and_requires_continue_for_skips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli.build_parser().parse_args(
        ["deploy", "--notification-arns", "arn:a, arn:b", "--notification-arns", "arn:c",
         "--continue-update-rollback", "--resources-to-skip", "Db,Queue"]
    )  # fmt: skip
    options = cli.options_from(args)

    assert options.notification_arns == ("arn:a", "arn:b", "arn:c")
    assert options.continue_update_rollback and options.resources_to_skip == ("Db", "Queue")
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy", "--resources-to-skip", "Db"])
    assert exited.value.code == 2
    assert (
        "--resources-to-skip only applies with --continue-update-rollback"
        in capsys.readouterr().err
    )
