"""What a built-in runtime changes in the template: how a scheduled task's event reaches the
handler, and who names a Lambda function's handler."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_template_platform import HEAD, props, rendered


def test_a_built_in_scheduled_task_gets_its_event_through_the_runtime_s_variable(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + """\
  functions:
    Report:
      handler: jobs/report.run
      events:
        - eventType: scheduledTask
          runtime: python3.12
          schedulerRate: rate(1 day)
          schedulerInput: {period: daily, recipients: [ops]}
        - eventType: scheduledTask
          runtime: container
          schedulerRate: rate(1 hour)
          schedulerInput: {containerOverrides: [{name: app, command: [hourly]}]}
""",
    )
    (builtin,) = props(template, "ReportSchedule")["Targets"]
    (container,) = props(template, "ReportEvent1Schedule")["Targets"]
    override = json.loads(builtin["Input"])["containerOverrides"][0]
    assert override["name"] == "app"
    assert json.loads(override["environment"][0]["value"]) == {
        "period": "daily",
        "recipients": ["ops"],
    }
    assert override["environment"][0]["name"] == "HYBRIDLESS_EVENT"
    # A user's own image takes RunTask overrides as written.
    assert json.loads(container["Input"]) == {
        "containerOverrides": [{"name": "app", "command": ["hourly"]}]
    }


def test_a_built_in_lambda_image_names_its_handler_itself(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        HEAD
        + """\
  functions:
    Api:
      handler: src/api.handler
      events:
        - eventType: lambdaContainer
          runtime: nodejs22
    Own:
      handler: src/own.handler
      events:
        - eventType: lambdaContainer
          runtime: container
""",
    )
    assert "ImageConfig" not in props(template, "ApiFunction")
    assert props(template, "OwnFunction")["ImageConfig"]["Command"] == ["src/own.handler"]
